using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;

namespace LispMobility.TestSupport.Pcap;

/// <summary>
/// Writes a classic libpcap file (microsecond timestamps, LINKTYPE_ETHERNET) of UDP datagrams, so that
/// tests can hand what the product sent to an independent decoder such as tshark.
/// </summary>
public sealed class PcapWriter : IDisposable
{
    private const int EthernetLength = 14, Ipv4Length = 20, Ipv6Length = 40, UdpLength = 8;
    private readonly Stream _stream;
    private readonly bool _ownsStream;
    private DateTimeOffset _clock = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);

    /// <summary>Starts a capture on <paramref name="stream"/> by writing the global header.</summary>
    public PcapWriter(Stream stream, bool ownsStream = false)
    {
        ArgumentNullException.ThrowIfNull(stream);
        _stream = stream;
        _ownsStream = ownsStream;
        Span<byte> header = stackalloc byte[24];
        BinaryPrimitives.WriteUInt32LittleEndian(header, 0xA1B2C3D4);
        BinaryPrimitives.WriteUInt16LittleEndian(header[4..], 2);
        BinaryPrimitives.WriteUInt16LittleEndian(header[6..], 4);
        BinaryPrimitives.WriteInt32LittleEndian(header[8..], 0); // thiszone
        BinaryPrimitives.WriteUInt32LittleEndian(header[12..], 0); // sigfigs
        BinaryPrimitives.WriteUInt32LittleEndian(header[16..], 65535); // snaplen
        BinaryPrimitives.WriteUInt32LittleEndian(header[20..], 1); // LINKTYPE_ETHERNET
        _stream.Write(header);
    }

    /// <summary>Creates (or replaces) the capture file at <paramref name="path"/>.</summary>
    public static PcapWriter Create(string path) => new(File.Create(path), ownsStream: true);

    /// <summary>Number of packets written so far.</summary>
    public int PacketCount { get; private set; }

    /// <summary>
    /// Writes one Ethernet/IP/UDP frame carrying <paramref name="payload"/>; both addresses must be of one family.
    /// Without a timestamp, packets are spaced one millisecond apart.
    /// </summary>
    public void WriteUdp(IPEndPoint source, IPEndPoint destination, ReadOnlySpan<byte> payload, DateTimeOffset? timestamp = null)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(destination);
        var frame = BuildUdpFrame(source, destination, payload);
        WriteFrame(frame, timestamp ?? (_clock = _clock.AddMilliseconds(1)));
    }

    /// <summary>Writes a complete Ethernet frame.</summary>
    public void WriteFrame(ReadOnlySpan<byte> frame, DateTimeOffset timestamp)
    {
        Span<byte> record = stackalloc byte[16];
        var micros = (timestamp - DateTimeOffset.UnixEpoch).Ticks / 10;
        BinaryPrimitives.WriteUInt32LittleEndian(record, (uint)(micros / 1_000_000));
        BinaryPrimitives.WriteUInt32LittleEndian(record[4..], (uint)(micros % 1_000_000));
        BinaryPrimitives.WriteUInt32LittleEndian(record[8..], (uint)frame.Length);
        BinaryPrimitives.WriteUInt32LittleEndian(record[12..], (uint)frame.Length);
        _stream.Write(record);
        _stream.Write(frame);
        PacketCount++;
    }

    /// <summary>An Ethernet frame with IPv4 or IPv6 and UDP headers, all checksums correct.</summary>
    public static byte[] BuildUdpFrame(IPEndPoint source, IPEndPoint destination, ReadOnlySpan<byte> payload)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(destination);
        var v6 = source.AddressFamily == AddressFamily.InterNetworkV6;
        if (destination.AddressFamily != source.AddressFamily) throw new ArgumentException("source and destination differ in address family", nameof(destination));
        var ipLength = v6 ? Ipv6Length : Ipv4Length;
        var udpLength = UdpLength + payload.Length;
        if (ipLength + udpLength > ushort.MaxValue) throw new ArgumentException("payload does not fit one IP packet", nameof(payload));
        var frame = new byte[EthernetLength + ipLength + udpLength];

        // Locally administered MACs: the decoder only needs a valid Ethernet header.
        ReadOnlySpan<byte> macs = [0x02, 0, 0, 0, 0, 0x02, 0x02, 0, 0, 0, 0, 0x01];
        macs.CopyTo(frame);
        BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(12), v6 ? (ushort)0x86DD : (ushort)0x0800);

        var ip = frame.AsSpan(EthernetLength, ipLength);
        if (v6)
        {
            ip[0] = 0x60;
            BinaryPrimitives.WriteUInt16BigEndian(ip[4..], (ushort)udpLength);
            ip[6] = 17;
            ip[7] = 64;
            source.Address.TryWriteBytes(ip[8..24], out _);
            destination.Address.TryWriteBytes(ip[24..40], out _);
        }
        else
        {
            ip[0] = 0x45;
            BinaryPrimitives.WriteUInt16BigEndian(ip[2..], (ushort)(ipLength + udpLength));
            BinaryPrimitives.WriteUInt16BigEndian(ip[4..], (ushort)(0x1000 + udpLength)); // identification
            ip[6] = 0x40; // don't fragment
            ip[8] = 64;
            ip[9] = 17;
            source.Address.TryWriteBytes(ip[12..16], out _);
            destination.Address.TryWriteBytes(ip[16..20], out _);
            BinaryPrimitives.WriteUInt16BigEndian(ip[10..], Checksum.Finish(Checksum.Add(0, ip)));
        }

        var udp = frame.AsSpan(EthernetLength + ipLength, udpLength);
        BinaryPrimitives.WriteUInt16BigEndian(udp, (ushort)source.Port);
        BinaryPrimitives.WriteUInt16BigEndian(udp[2..], (ushort)destination.Port);
        BinaryPrimitives.WriteUInt16BigEndian(udp[4..], (ushort)udpLength);
        payload.CopyTo(udp[UdpLength..]);
        var addresses = v6 ? ip[8..40] : ip[12..20];
        var sum = Checksum.Add(17u + (uint)udpLength, addresses);
        var checksum = Checksum.Finish(Checksum.Add(sum, udp));
        BinaryPrimitives.WriteUInt16BigEndian(udp[6..], checksum == 0 ? (ushort)0xFFFF : checksum);
        return frame;
    }

    /// <inheritdoc />
    public void Dispose()
    {
        _stream.Flush();
        if (_ownsStream) _stream.Dispose();
    }
}

/// <summary>The RFC 1071 ones'-complement sum, written independently of the product's own copy.</summary>
public static class Checksum
{
    /// <summary>Adds <paramref name="data"/> as big-endian 16-bit words to <paramref name="sum"/>.</summary>
    public static uint Add(uint sum, ReadOnlySpan<byte> data)
    {
        for (var i = 0; i < data.Length; i += 2)
        {
            sum += (uint)(data[i] << 8) | (i + 1 < data.Length ? data[i + 1] : 0u);
        }

        return sum;
    }

    /// <summary>Folds the carries and complements.</summary>
    public static ushort Finish(uint sum)
    {
        while (sum > 0xFFFF) sum = (sum & 0xFFFF) + (sum >> 16);
        return (ushort)~sum;
    }
}
