using System.Buffers.Binary;
using System.Runtime.InteropServices;

namespace LispMobility.Lisp.Wire;

/// <summary>The 16-bit ones'-complement checksum of IPv4 headers and UDP (RFC 1071).</summary>
/// <remarks>Public for the xTR's data plane, which writes outer IPv4 headers, ICMP errors, IPv6 UDP checksums and the TCP checksums of the segments it cuts.</remarks>
public static class InternetChecksum
{
    /// <summary>Adds the 16-bit big-endian words of <paramref name="data"/> to a running sum (an odd last byte padded with zero).</summary>
    public static uint Add(uint sum, ReadOnlySpan<byte> data)
    {
        // The ones'-complement sum does not depend on byte order (RFC 1071 §2(B)): 32-bit words in the machine's order are
        // summed into 64 bits, folded to 16, and swapped once to network order. A segment's 1,400 bytes cost 350 adds, not 700.
        var whole = data.Length & ~3;
        ulong wide = 0;
        foreach (var word in MemoryMarshal.Cast<byte, uint>(data[..whole])) wide += word;
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

    /// <summary>Folds the carries of a running sum and complements it: the checksum to write.</summary>
    public static ushort Finish(uint sum)
    {
        while ((sum >> 16) != 0) sum = (sum & 0xFFFF) + (sum >> 16);
        return (ushort)~sum;
    }
}
