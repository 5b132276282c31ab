using System.Buffers.Binary;

namespace LispMobility.Lisp.Wire;

/// <summary>The 16-bit ones'-complement checksum of IPv4 headers and UDP (RFC 1071).</summary>
/// <remarks>Public for the xTR's data plane, which writes outer IPv4 headers, ICMP errors and IPv6 UDP checksums.</remarks>
public static class InternetChecksum
{
    /// <summary>Adds the 16-bit big-endian words of <paramref name="data"/> to a running sum (an odd last byte padded with zero).</summary>
    public static uint Add(uint sum, ReadOnlySpan<byte> data)
    {
        var i = 0;
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
