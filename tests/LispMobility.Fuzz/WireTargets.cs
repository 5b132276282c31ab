using LispMobility.Lisp;
using LispMobility.Lisp.Addressing;
using LispMobility.Lisp.Messages;

namespace LispMobility.Fuzz;

/// <summary>
/// One target per wire reader. Each reads the input; what reads must write back and read again to the same bytes (the
/// writer's form is a fixed point), and the allocation-free view must agree with the reader on whether the input is valid.
/// A broken invariant throws <see cref="FuzzInvariantException"/>, which afl records as a crash.
/// </summary>
internal static class WireTargets
{
    public static void MapRegister(ReadOnlySpan<byte> input) =>
        Authenticated<Lisp.Messages.MapRegister>(input, Lisp.Messages.MapRegister.TryRead, Lisp.Messages.MapRegister.TryReadView, "Map-Register");

    public static void MapNotify(ReadOnlySpan<byte> input) =>
        Authenticated<Lisp.Messages.MapNotify>(input, Lisp.Messages.MapNotify.TryRead, Lisp.Messages.MapNotify.TryReadView, "Map-Notify");

    public static void MapNotifyAck(ReadOnlySpan<byte> input) =>
        Authenticated<Lisp.Messages.MapNotifyAck>(input, Lisp.Messages.MapNotifyAck.TryRead, Lisp.Messages.MapNotifyAck.TryReadView, "Map-Notify-Ack");

    private delegate bool Reader<T>(ReadOnlySpan<byte> bytes, out T message, out LispError error);

    private delegate bool ViewReader(ReadOnlySpan<byte> bytes, out AuthenticatedMessageView view, out LispError error);

    // The three messages that share the authenticated body: reader and view agree, and what reads is a write-read fixed point.
    private static void Authenticated<T>(ReadOnlySpan<byte> input, Reader<T> read, ViewReader view, string what) where T : LispMessage
    {
        var ok = read(input, out var message, out _);
        Agree(ok, view(input, out _, out _), what + " view");
        if (ok) FixedPoint(message.ToArray(), b => read(b, out var m, out _) ? m.ToArray() : null);
    }

    public static void MapRequest(ReadOnlySpan<byte> input)
    {
        var ok = Lisp.Messages.MapRequest.TryRead(input, out var message, out _);
        Agree(ok, MapRequestView.TryRead(input, out var view, out _), "Map-Request view");
        if (!ok) return;
        FixedPoint(message.ToArray(), b => Lisp.Messages.MapRequest.TryRead(b, out var m, out _) ? m.ToArray() : null);
        _ = view.ReplyAddress(System.Net.IPAddress.Loopback);
        if (view.RecordCount > 0) _ = view.FirstRecord;
    }

    public static void MapReply(ReadOnlySpan<byte> input)
    {
        if (Lisp.Messages.MapReply.TryRead(input, out var message, out _))
        {
            FixedPoint(message.ToArray(), b => Lisp.Messages.MapReply.TryRead(b, out var m, out _) ? m.ToArray() : null);
        }
    }

    public static void Ecm(ReadOnlySpan<byte> input)
    {
        var ok = EncapsulatedControlMessage.TryRead(input, out var message, out _);
        Agree(ok, EcmView.TryRead(input, out _, out _), "ECM view");
        if (ok) FixedPoint(message.ToArray(), b => EncapsulatedControlMessage.TryRead(b, out var m, out _) ? m.ToArray() : null);
    }

    public static void DataHeader(ReadOnlySpan<byte> input)
    {
        if (!DataPlaneHeader.TryRead(input, out var header, out _)) return;
        var bytes = new byte[DataPlaneHeader.Length];
        header.Write(bytes);
        if (!DataPlaneHeader.TryRead(bytes, out var again, out _) || again != header) throw new FuzzInvariantException("data-plane header: write-then-read differs");
        if (!bytes.AsSpan().SequenceEqual(input[..DataPlaneHeader.Length])) throw new FuzzInvariantException("data-plane header: read-then-write differs from the input");
    }

    public static void Address(ReadOnlySpan<byte> input)
    {
        if (!LispAddress.TryRead(input, out var address, out var consumed, out _)) return;
        if (consumed <= 0 || consumed > input.Length) throw new FuzzInvariantException($"address: consumed {consumed} of {input.Length} bytes");
        var bytes = new byte[address.GetSerializedLength()];
        address.Write(bytes);
        if (!LispAddress.TryRead(bytes, out var again, out var used, out _) || used != bytes.Length || !again.Equals(address))
        {
            throw new FuzzInvariantException("address: write-then-read differs");
        }

        _ = address.ToString();
        if (address.IsIp) _ = address.ToIPAddress();
    }

    private static void Agree(bool reader, bool view, string what)
    {
        if (reader != view) throw new FuzzInvariantException($"{what} says {(view ? "valid" : "invalid")}, the reader {(reader ? "valid" : "invalid")}");
    }

    // Whatever a reader accepts, the writer writes in a form that reads back and writes the same bytes again.
    private static void FixedPoint(byte[] written, Func<byte[], byte[]?> readWrite)
    {
        var again = readWrite(written) ?? throw new FuzzInvariantException("what the writer wrote does not read back");
        if (!again.AsSpan().SequenceEqual(written)) throw new FuzzInvariantException("write, read, write: the bytes differ");
    }
}

/// <summary>An invariant a fuzz input broke: a bug, reported to afl as a crash.</summary>
public sealed class FuzzInvariantException(string message) : Exception(message);
