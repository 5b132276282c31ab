using LispMobility.Lisp.Wire;

namespace LispMobility.Lisp.Messages;

/// <summary>A LISP control message of any type; the roles work with the sealed subtypes.</summary>
public abstract record LispMessage
{
    /// <summary>The message type.</summary>
    public abstract LispMessageType Type { get; }

    /// <summary>Bytes on the wire.</summary>
    public abstract int GetSerializedLength();

    /// <summary>Writes the message into <paramref name="destination"/>; returns the bytes written.</summary>
    public abstract int Write(Span<byte> destination);

    /// <summary>Serializes into a new array (for code off the hot path).</summary>
    public byte[] ToArray()
    {
        var bytes = new byte[GetSerializedLength()];
        Write(bytes);
        return bytes;
    }

    /// <summary>The type of a datagram, without reading the rest.</summary>
    public static bool TryPeekType(ReadOnlySpan<byte> datagram, out LispMessageType type)
    {
        type = LispMessageType.Reserved;
        if (datagram.IsEmpty) return false;
        type = (LispMessageType)(datagram[0] >> 4);
        return true;
    }

    /// <summary>Reads any supported control message.</summary>
    public static bool TryRead(ReadOnlySpan<byte> datagram, out LispMessage message, out LispError error)
    {
        message = null!;
        if (!TryPeekType(datagram, out var type))
        {
            error = LispError.Truncated("Type", 0, 1);
            return false;
        }

        bool ok;
        switch (type)
        {
            case LispMessageType.MapRequest: ok = MapRequest.TryRead(datagram, out var mq, out error); message = mq; break;
            case LispMessageType.MapReply: ok = MapReply.TryRead(datagram, out var mr, out error); message = mr; break;
            case LispMessageType.MapRegister: ok = MapRegister.TryRead(datagram, out var rg, out error); message = rg; break;
            case LispMessageType.MapNotify: ok = MapNotify.TryRead(datagram, out var mn, out error); message = mn; break;
            case LispMessageType.MapNotifyAck: ok = MapNotifyAck.TryRead(datagram, out var ma, out error); message = ma; break;
            case LispMessageType.EncapsulatedControlMessage: ok = EncapsulatedControlMessage.TryRead(datagram, out var ecm, out error); message = ecm; break;
            default:
                error = LispError.Unsupported("Type", 0, (byte)type);
                return false;
        }

        return ok;
    }

    private protected static void EnsureCapacity(Span<byte> destination, int length, LispMessageType type)
    {
        // The type's name boxes the enum; build it only for the exception, not on every write.
        if (destination.Length < length) WireWriter.EnsureCapacity(destination, length, type.ToString());
    }
}
