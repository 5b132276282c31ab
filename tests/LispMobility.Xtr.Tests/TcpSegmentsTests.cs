using System.Buffers.Binary;
using System.Net;
using LispMobility.Lisp.Wire;
using LispMobility.Xtr.DataPlane;

namespace LispMobility.Xtr.Tests;

/// <summary>The ITR's segmentation and checksum offload: what a TUN with TSO hands over, cut and completed as a NIC would.</summary>
public sealed class TcpSegmentsTests
{
    private const byte Fin = 0x01, Psh = 0x08, Ack = 0x10, Cwr = 0x80;

    // A TCP super-packet as the kernel hands it over: IP total length covering everything, the TCP checksum field holding
    // only the pseudo-header's folded sum (CHECKSUM_PARTIAL), 12 bytes of TCP options (timestamps).
    internal static byte[] SuperPacket(bool v4, int payload, byte flags, uint sequence = 0xFFFF_F000, ushort id = 0xFFFE)
    {
        var ip = v4 ? 20 : 40;
        var headers = ip + 32;
        var p = new byte[headers + payload];
        if (v4)
        {
            p[0] = 0x45;
            BinaryPrimitives.WriteUInt16BigEndian(p.AsSpan(2), (ushort)p.Length);
            BinaryPrimitives.WriteUInt16BigEndian(p.AsSpan(4), id);
            BinaryPrimitives.WriteUInt16BigEndian(p.AsSpan(6), 0x4000);
            p[8] = 64;
            p[9] = 6;
            IPAddress.Parse("10.9.0.5").TryWriteBytes(p.AsSpan(12), out _);
            IPAddress.Parse("172.16.4.10").TryWriteBytes(p.AsSpan(16), out _);
        }
        else
        {
            BinaryPrimitives.WriteUInt32BigEndian(p, 0x60000000);
            BinaryPrimitives.WriteUInt16BigEndian(p.AsSpan(4), (ushort)(p.Length - 40));
            p[6] = 6;
            p[7] = 64;
            IPAddress.Parse("2001:db8:9::5").TryWriteBytes(p.AsSpan(8), out _);
            IPAddress.Parse("2001:db8:4::10").TryWriteBytes(p.AsSpan(24), out _);
        }

        var tcp = p.AsSpan(ip);
        BinaryPrimitives.WriteUInt16BigEndian(tcp, 40000);
        BinaryPrimitives.WriteUInt16BigEndian(tcp[2..], 5001);
        BinaryPrimitives.WriteUInt32BigEndian(tcp[4..], sequence);
        BinaryPrimitives.WriteUInt32BigEndian(tcp[8..], 77);
        tcp[12] = 8 << 4;
        tcp[13] = flags;
        BinaryPrimitives.WriteUInt16BigEndian(tcp[14..], 512);
        tcp[20] = 1; tcp[21] = 1; tcp[22] = 8; tcp[23] = 10;
        for (var i = headers; i < p.Length; i++) p[i] = (byte)(i * 7);
        BinaryPrimitives.WriteUInt16BigEndian(tcp[16..], (ushort)~InternetChecksum.Finish(Pseudo(p, v4, p.Length - ip)));
        return p;
    }

    private static uint Pseudo(ReadOnlySpan<byte> p, bool v4, int tcpLength) =>
        v4 ? InternetChecksum.Add(0, p[12..20]) + 6u + (uint)tcpLength : InternetChecksum.Add(0, p[8..40]) + 6u + (uint)tcpLength;

    internal static VirtioNetHeader Tso(bool v4, ushort mss, bool ecn = false) =>
        new(VirtioNetHeader.NeedsChecksum, (byte)((v4 ? VirtioNetHeader.GsoTcpV4 : VirtioNetHeader.GsoTcpV6) | (ecn ? VirtioNetHeader.GsoEcn : 0)),
            (ushort)((v4 ? 20 : 40) + 32), mss, (ushort)(v4 ? 20 : 40), 16);

    internal static List<byte[]> Cut(byte[] packet, VirtioNetHeader header)
    {
        Assert.True(TcpSegments.TryCreate(packet, header, out var segments));
        var list = new List<byte[]>();
        var buffer = new byte[70000];
        while (segments.TryNext(buffer, out var n)) list.Add(buffer[..n]);
        return list;
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void A_super_packet_is_cut_into_mss_segments_each_a_valid_packet_of_its_own(bool v4)
    {
        var ip = v4 ? 20 : 40;
        var original = SuperPacket(v4, 4000, Ack | Psh | Fin | Cwr);
        var segments = Cut(original, Tso(v4, 1448, ecn: true));

        Assert.Equal([1448, 1448, 1104], segments.Select(s => s.Length - ip - 32));
        var payload = segments.SelectMany(s => s[(ip + 32)..]).ToArray();
        Assert.Equal(original[(ip + 32)..], payload);
        for (var i = 0; i < segments.Count; i++)
        {
            var s = segments[i];
            Assert.True(IpPacket.TryRead(s, out var read));
            Assert.Equal(s.Length, read.Length);
            if (v4)
            {
                Assert.Equal((ushort)(0xFFFE + i), BinaryPrimitives.ReadUInt16BigEndian(s.AsSpan(4)));
                Assert.Equal(0, InternetChecksum.Finish(InternetChecksum.Add(0, s.AsSpan(0, 20))));
            }

            // Sequence numbers continue across the 32-bit wrap; the TCP checksum verifies over pseudo-header and segment.
            Assert.Equal(unchecked(0xFFFF_F000u + (uint)(1448 * i)), BinaryPrimitives.ReadUInt32BigEndian(s.AsSpan(ip + 4)));
            Assert.Equal(0, InternetChecksum.Finish(InternetChecksum.Add(Pseudo(s, v4, s.Length - ip), s.AsSpan(ip))));
            var flags = s[ip + 13];
            Assert.Equal(i == segments.Count - 1, (flags & Fin) != 0);
            Assert.Equal(i == segments.Count - 1, (flags & Psh) != 0);
            Assert.Equal(i == 0, (flags & Cwr) != 0);
            Assert.True((flags & Ack) != 0);
            Assert.Equal(original.AsSpan(ip + 20, 12).ToArray(), s.AsSpan(ip + 20, 12).ToArray());
        }
    }

    [Fact]
    public void A_super_packet_no_longer_than_one_segment_is_passed_as_one_with_its_checksum_completed()
    {
        var original = SuperPacket(v4: true, 100, Ack);
        var s = Assert.Single(Cut(original, Tso(v4: true, 1448)));
        Assert.Equal(original.Length, s.Length);
        Assert.Equal(0, InternetChecksum.Finish(InternetChecksum.Add(Pseudo(s, true, s.Length - 20), s.AsSpan(20))));
    }

    public static TheoryData<string> Malformed => ["gso size 0", "v6 packet as TCPv4", "UDP inside", "fragment", "truncated", "data offset past the end", "data offset under 5"];

    [Theory]
    [MemberData(nameof(Malformed))]
    public void A_super_packet_that_cannot_be_cut_is_refused_not_cut_wrong(string what)
    {
        var packet = SuperPacket(v4: true, 3000, Ack);
        var header = Tso(v4: true, 1448);
        switch (what)
        {
            case "gso size 0": header = header with { GsoSize = 0 }; break;
            case "v6 packet as TCPv4": packet = SuperPacket(v4: false, 3000, Ack); break;
            case "UDP inside": packet[9] = 17; break;
            case "fragment": packet[6] = 0x20; break;
            case "truncated": packet = packet[..1000]; break;
            case "data offset past the end": packet = SuperPacket(v4: true, 0, Ack); packet[32] = 15 << 4; break;
            case "data offset under 5": packet[32] = 4 << 4; break;
        }

        Assert.False(TcpSegments.TryCreate(packet, header, out _), what);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void A_partial_checksum_is_completed_where_the_header_says_and_a_place_outside_the_packet_is_refused(bool v4)
    {
        var buffer = DataPlanePackets.Udp(v4 ? "10.9.0.5" : "2001:db8:9::5", v4 ? "172.16.4.10" : "2001:db8:4::10", 5000, 53, length: 300, offset: 0);
        var ip = v4 ? 20 : 40;
        var pseudo = Pseudo(buffer, v4, 280 - (v4 ? 0 : 20)) + 17 - 6;
        BinaryPrimitives.WriteUInt16BigEndian(buffer.AsSpan(ip + 6), (ushort)~InternetChecksum.Finish(pseudo));
        var header = new VirtioNetHeader(VirtioNetHeader.NeedsChecksum, VirtioNetHeader.GsoNone, 0, 0, (ushort)ip, 6);

        Assert.True(header.TryCompleteChecksum(buffer));
        Assert.NotEqual(0, BinaryPrimitives.ReadUInt16BigEndian(buffer.AsSpan(ip + 6)));
        Assert.Equal(0, InternetChecksum.Finish(InternetChecksum.Add(pseudo, buffer.AsSpan(ip))));
        Assert.False((header with { ChecksumStart = 299 }).TryCompleteChecksum(buffer));
    }

    [Fact]
    public void The_header_reads_back_what_was_written_in_the_kernel_s_little_endian_layout()
    {
        var header = new VirtioNetHeader(1, 4, 72, 1428, 40, 16);
        var bytes = new byte[VirtioNetHeader.Length];
        header.Write(bytes);
        Assert.Equal([1, 4, 72, 0, 0x94, 0x05, 40, 0, 16, 0], bytes);
        Assert.Equal(header, VirtioNetHeader.Read(bytes));
        Assert.True(header.IsSuperPacket);
        Assert.False((header with { GsoType = VirtioNetHeader.GsoEcn }).IsSuperPacket);
    }
}
