using System.Buffers.Binary;
using LispMobility.Lisp.Wire;
using LispMobility.Xtr.DataPlane;

namespace LispMobility.Xtr.Tests;

/// <summary>
/// The ETR's receive offload for UDP: datagrams of one flow are joined into one UDP GSO super-packet whose cut gives them
/// back, and anything the stack could not cut back into the same datagrams (or whose checksum fails) is left alone.
/// </summary>
public sealed class UdpCoalescerTests
{
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Datagrams_of_a_flow_are_joined_into_one_super_packet_that_cuts_back_into_them(bool v4)
    {
        var ip = v4 ? 20 : 40;
        var datagrams = new[] { Datagram(v4, 1, 300), Datagram(v4, 2, 300), Datagram(v4, 3, 120) };
        var joiner = new UdpCoalescer();
        Assert.True(joiner.TryStart(datagrams[0]));
        Assert.True(joiner.TryAppend(datagrams[1]));
        Assert.True(joiner.TryAppend(datagrams[2]));
        Assert.False(joiner.TryAppend(Datagram(v4, 4, 120))); // after a shorter one the run is closed
        var framed = joiner.Take().ToArray();
        Assert.False(joiner.HasRun);
        Assert.Equal(1, joiner.Joined);

        var header = VirtioNetHeader.Read(framed);
        Assert.Equal((VirtioNetHeader.GsoUdpL4, VirtioNetHeader.NeedsChecksum), (header.GsoType, header.Flags));
        Assert.Equal((300, ip, 6, ip + 8), (header.GsoSize, header.ChecksumStart, header.ChecksumOffset, header.HeaderLength));
        var packet = framed[VirtioNetHeader.Length..];
        Assert.True(IpPacket.TryRead(packet, out var read));
        Assert.Equal(packet.Length, read.Length);
        Assert.Equal(packet.Length - ip, BinaryPrimitives.ReadUInt16BigEndian(packet.AsSpan(ip + 4)));
        if (v4) Assert.Equal(0, InternetChecksum.Finish(InternetChecksum.Add(0, packet.AsSpan(0, 20))));
        // Partial: the pseudo-header's folded sum, which with the payload's sum completes to a valid checksum.
        var pseudo = v4 ? InternetChecksum.Add(0, packet.AsSpan(12, 8)) + 17u + (uint)(packet.Length - ip)
            : InternetChecksum.Add(0, packet.AsSpan(8, 32)) + 17u + (uint)(packet.Length - ip);
        Assert.Equal((ushort)~InternetChecksum.Finish(pseudo), BinaryPrimitives.ReadUInt16BigEndian(packet.AsSpan(ip + 6)));

        // Cut as the stack cuts it: every segment the first's payload size, the last the rest; the same payloads.
        var payloads = packet[(ip + 8)..];
        var cut = payloads.Chunk(header.GsoSize).ToArray();
        Assert.Equal(datagrams.Select(d => d[(ip + 8)..]), cut);
    }

    [Fact]
    public void A_lone_datagram_goes_as_it_came_with_its_checksum_marked_verified()
    {
        var datagram = Datagram(true, 1, 300);
        var joiner = new UdpCoalescer();
        Assert.True(joiner.TryStart(datagram));
        var framed = joiner.Take().ToArray();
        Assert.Equal((VirtioNetHeader.GsoNone, VirtioNetHeader.DataValid), (VirtioNetHeader.Read(framed).GsoType, VirtioNetHeader.Read(framed).Flags));
        Assert.Equal(datagram, framed[VirtioNetHeader.Length..]);
        Assert.Equal(0, joiner.Joined);
    }

    [Fact]
    public void What_the_stack_could_not_cut_back_or_that_fails_its_checksum_is_not_joined()
    {
        var first = Datagram(true, 1, 300);
        var cases = new Dictionary<string, byte[]>
        {
            ["another destination port"] = Datagram(true, 2, 300, destinationPort: 9),
            ["larger than the first"] = Datagram(true, 2, 400),
            ["another TTL"] = Datagram(true, 2, 300, ttl: 9),
            ["a bad checksum"] = Corrupt(Datagram(true, 2, 300)),
            ["IPv4 without DF"] = Datagram(true, 2, 300, df: false),
            ["IPv6"] = Datagram(false, 2, 300),
            ["TCP"] = WithProtocol(Datagram(true, 2, 300), 6),
        };
        foreach (var (what, next) in cases)
        {
            var joiner = new UdpCoalescer();
            Assert.True(joiner.TryStart(first));
            Assert.False(joiner.TryAppend(next), what);
        }

        Assert.False(new UdpCoalescer().TryStart(Datagram(true, 1, 300, df: false)));
        Assert.False(new UdpCoalescer().TryStart(Corrupt(Datagram(true, 1, 300))));
        var v6 = Datagram(false, 1, 300);
        v6[46] = v6[47] = 0; // a zero checksum is invalid over IPv6
        Assert.False(new UdpCoalescer().TryStart(v6));
        var noChecksum = Datagram(true, 1, 300);
        noChecksum[26] = noChecksum[27] = 0; // over IPv4 it means none
        Assert.True(new UdpCoalescer().TryStart(noChecksum));
    }

    [Fact]
    public void A_run_stops_at_64_datagrams_the_most_the_stack_cuts_from_one()
    {
        var joiner = new UdpCoalescer();
        Assert.True(joiner.TryStart(Datagram(true, 0, 100)));
        for (var i = 1; i < 64; i++) Assert.True(joiner.TryAppend(Datagram(true, i, 100)));
        Assert.False(joiner.TryAppend(Datagram(true, 64, 100)));
    }

    // A UDP datagram 10.9.0.5:40000 -> 172.16.4.10:5002 (or 2001:db8:9::5 -> 2001:db8:4::10) with its checksum.
    private static byte[] Datagram(bool v4, int sequence, int payload, int destinationPort = 5002, byte ttl = 63, bool df = true)
    {
        var ip = v4 ? 20 : 40;
        var packet = new byte[ip + 8 + payload];
        if (v4)
        {
            packet[0] = 0x45;
            BinaryPrimitives.WriteUInt16BigEndian(packet.AsSpan(2), (ushort)packet.Length);
            BinaryPrimitives.WriteUInt16BigEndian(packet.AsSpan(4), (ushort)sequence);
            packet[6] = df ? (byte)0x40 : (byte)0;
            packet[8] = ttl;
            packet[9] = 17;
            new byte[] { 10, 9, 0, 5, 172, 16, 4, 10 }.CopyTo(packet, 12);
            BinaryPrimitives.WriteUInt16BigEndian(packet.AsSpan(10), InternetChecksum.Finish(InternetChecksum.Add(0, packet.AsSpan(0, 20))));
        }
        else
        {
            packet[0] = 0x60;
            BinaryPrimitives.WriteUInt16BigEndian(packet.AsSpan(4), (ushort)(8 + payload));
            packet[6] = 17;
            packet[7] = ttl;
            System.Net.IPAddress.Parse("2001:db8:9::5").GetAddressBytes().CopyTo(packet, 8);
            System.Net.IPAddress.Parse("2001:db8:4::10").GetAddressBytes().CopyTo(packet, 24);
        }

        BinaryPrimitives.WriteUInt16BigEndian(packet.AsSpan(ip), 40000);
        BinaryPrimitives.WriteUInt16BigEndian(packet.AsSpan(ip + 2), (ushort)destinationPort);
        BinaryPrimitives.WriteUInt16BigEndian(packet.AsSpan(ip + 4), (ushort)(8 + payload));
        for (var i = 0; i < payload; i++) packet[ip + 8 + i] = (byte)(sequence * 7 + i);
        var pseudo = v4 ? InternetChecksum.Add(0, packet.AsSpan(12, 8)) + 17u + (uint)(8 + payload) : InternetChecksum.Add(0, packet.AsSpan(8, 32)) + 17u + (uint)(8 + payload);
        var checksum = InternetChecksum.Finish(InternetChecksum.Add(pseudo, packet.AsSpan(ip)));
        BinaryPrimitives.WriteUInt16BigEndian(packet.AsSpan(ip + 6), checksum == 0 ? (ushort)0xFFFF : checksum);
        return packet;
    }

    private static byte[] Corrupt(byte[] packet)
    {
        packet[^1] ^= 0x5A;
        return packet;
    }

    private static byte[] WithProtocol(byte[] packet, byte protocol)
    {
        packet[9] = protocol;
        return packet;
    }
}
