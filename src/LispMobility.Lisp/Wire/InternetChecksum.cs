using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace LispMobility.Lisp.Wire;

/// <summary>The 16-bit ones'-complement checksum of IPv4 headers and UDP (RFC 1071).</summary>
/// <remarks>Public for the xTR's data plane, which writes outer IPv4 headers, ICMP errors, IPv6 UDP checksums and the TCP checksums of the segments it cuts.</remarks>
public static class InternetChecksum
{
    /// <summary>Adds the 16-bit big-endian words of <paramref name="data"/> to a running sum (an odd last byte padded with zero).</summary>
    public static uint Add(uint sum, ReadOnlySpan<byte> data) => Add(sum, data, default);

    /// <summary>
    /// Copies <paramref name="source"/> to the start of <paramref name="destination"/> (which must not overlap it) and adds its
    /// words to a running sum, as <see cref="Add"/> would: one pass over the bytes where a copy and a sum would take two.
    /// </summary>
    public static uint CopyAndAdd(uint sum, ReadOnlySpan<byte> source, Span<byte> destination)
    {
        if (destination.Length < source.Length) throw new ArgumentException($"the destination holds {destination.Length} of {source.Length} bytes", nameof(destination));
        return Add(sum, source, destination);
    }

    // The ones'-complement sum does not depend on byte order (RFC 1071 §2(B)): 32-bit words in the machine's order are
    // summed into 64 bits, folded to 16, and swapped once to network order. A segment's 1,400 bytes cost 350 adds, not 700.
    // A non-empty copyTo gets the bytes too: the vector steps store what they load, the rest is copied after.
    private static uint Add(uint sum, ReadOnlySpan<byte> data, Span<byte> copyTo)
    {
        var (wide, vectored) = Vector256.IsHardwareAccelerated && data.Length >= 2 * Vector256<byte>.Count ? SumVectors(data, copyTo) : (0UL, 0);
        if (!copyTo.IsEmpty) data[vectored..].CopyTo(copyTo[vectored..]);
        var whole = data.Length & ~3;
        foreach (var word in MemoryMarshal.Cast<byte, uint>(data[vectored..whole])) wide += word;
        wide = (wide & 0xFFFFFFFF) + (wide >> 32);
        wide = (wide & 0xFFFFFFFF) + (wide >> 32);
        var folded = (uint)((wide & 0xFFFF) + (wide >> 16));
        folded = (folded & 0xFFFF) + (folded >> 16);
        folded = (folded & 0xFFFF) + (folded >> 16);
        sum += BitConverter.IsLittleEndian ? BinaryPrimitives.ReverseEndianness((ushort)folded) : folded;
        var i = whole;
        for (; i + 1 < data.Length; i += 2) sum += BinaryPrimitives.ReadUInt16BigEndian(data[i..]);
        if (i < data.Length) sum += (uint)(data[i] << 8);
        return sum;
    }

    // 32 bytes a step: each 32-bit lane takes its two 16-bit words (machine order, as the scalar loop's words fold to), so a
    // lane grows by at most 0x1FFFE a step and is widened into the 64-bit total every 32,768 steps, before it could overflow.
    // 1,448 bytes in a fifth of the 32-bit loop's time (docs/benchmarks.md): the ITR's cut and the ETR's check sum every segment.
    private static (ulong Sum, int Length) SumVectors(ReadOnlySpan<byte> data, Span<byte> copyTo)
    {
        const int StepsPerFold = 32_768;
        var mask = Vector256.Create(0xFFFFu);
        ref var start = ref MemoryMarshal.GetReference(data);
        ref var target = ref MemoryMarshal.GetReference(copyTo);
        var copy = !copyTo.IsEmpty;
        var length = data.Length & ~(Vector256<byte>.Count - 1);
        ulong total = 0;
        for (var i = 0; i < length;)
        {
            var acc = Vector256<uint>.Zero;
            var stop = Math.Min(length, i + StepsPerFold * Vector256<byte>.Count);
            for (; i < stop; i += Vector256<byte>.Count)
            {
                var bytes = Vector256.LoadUnsafe(ref start, (nuint)i);
                if (copy) bytes.StoreUnsafe(ref target, (nuint)i);
                var v = bytes.AsUInt32();
                acc += (v & mask) + Vector256.ShiftRightLogical(v, 16);
            }

            var (lower, upper) = Vector256.Widen(acc);
            total += Vector256.Sum(lower + upper);
        }

        return (total, length);
    }

    /// <summary>Folds the carries of a running sum and complements it: the checksum to write.</summary>
    public static ushort Finish(uint sum)
    {
        while ((sum >> 16) != 0) sum = (sum & 0xFFFF) + (sum >> 16);
        return (ushort)~sum;
    }
}
