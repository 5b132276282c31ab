using System.Buffers.Binary;
using LispMobility.Lisp.Wire;
using LispMobility.Xtr.DataPlane;

namespace LispMobility.Xtr.Tests;

/// <summary>
/// The ETR's receive offload: segments cut by <see cref="TcpSegments"/> (what an ITR sends) are joined back into the
/// super-packet they came from, and anything GRO would not join is left alone.
/// </summary>
public sealed class TcpCoalescerTests
{
    private const byte Fin = 0x01, Psh = 0x08, Ack = 0x10;

    // Segments of a 4,000-byte write as an ITR sends them (complete checksums), from the segmenter's own tests' packet.
    private static List<byte[]> Segments(bool v4, int payload = 4000, byte flags = Ack | Psh, uint sequence = 1000) =>
        TcpSegmentsTests.Cut(TcpSegmentsTests.SuperPacket(v4, payload, flags, sequence), TcpSegmentsTests.Tso(v4, 1448));

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void In_order_segments_of_a_flow_are_joined_into_one_super_packet_the_kernel_can_segment_again(bool v4)
    {
        var ip = v4 ? 20 : 40;
        var segments = Segments(v4);
        var joiner = new TcpCoalescer();
        Assert.True(joiner.TryStart(segments[0]));
        Assert.True(joiner.TryAppend(segments[1]));
        Assert.True(joiner.TryAppend(segments[2]));
        var framed = joiner.Take().ToArray();
        Assert.False(joiner.HasRun);
        Assert.Equal(1, joiner.Joined);

        var header = VirtioNetHeader.Read(framed);
        Assert.Equal(v4 ? VirtioNetHeader.GsoTcpV4 : VirtioNetHeader.GsoTcpV6, header.GsoType);
        Assert.Equal(VirtioNetHeader.NeedsChecksum, header.Flags);
        Assert.Equal(1448, header.GsoSize);
        Assert.Equal(ip, header.ChecksumStart);
        Assert.Equal(16, header.ChecksumOffset);
        var packet = framed[VirtioNetHeader.Length..];
        Assert.True(IpPacket.TryRead(packet, out var read));
        Assert.Equal(packet.Length, read.Length);
        Assert.Equal(segments.SelectMany(s => s[(ip + 32)..]), packet[(ip + 32)..]);
        Assert.Equal(1000u, BinaryPrimitives.ReadUInt32BigEndian(packet.AsSpan(ip + 4)));
        Assert.Equal(Ack | Psh, packet[ip + 13]);
        if (v4) Assert.Equal(0, InternetChecksum.Finish(InternetChecksum.Add(0, packet.AsSpan(0, 20))));

        // Cut again as the kernel would: the very segments that came in.
        Assert.True(TcpSegments.TryCreate(packet, header, out var again));
        var buffer = new byte[70000];
        for (var i = 0; again.TryNext(buffer, out var n); i++)
        {
            if (v4) BinaryPrimitives.WriteUInt16BigEndian(buffer.AsSpan(4), BinaryPrimitives.ReadUInt16BigEndian(segments[i].AsSpan(4)));
            if (v4) BinaryPrimitives.WriteUInt16BigEndian(buffer.AsSpan(10), BinaryPrimitives.ReadUInt16BigEndian(segments[i].AsSpan(10)));
            Assert.Equal(segments[i], buffer[..n]);
        }
    }

    [Fact]
    public void A_segment_whose_checksum_fails_is_not_joined_and_leaves_the_run_as_it_was()
    {
        var segments = Segments(v4: true);
        var corrupt = (byte[])segments[1].Clone();
        corrupt[^1] ^= 0x5A;
        var joiner = new TcpCoalescer();
        var clean = new TcpCoalescer();

        Assert.True(joiner.TryStart(segments[0]) && clean.TryStart(segments[0]));
        // Its payload was copied behind the run while it was summed; the run does not take it.
        Assert.False(joiner.TryAppend(corrupt));
        Assert.True(joiner.TryAppend(segments[1]) && clean.TryAppend(segments[1]));

        Assert.Equal(clean.Take().ToArray(), joiner.Take().ToArray());
    }

    [Fact]
    public void A_lone_segment_goes_as_it_came_with_its_checksum_marked_verified()
    {
        var segment = Segments(v4: true)[0];
        var joiner = new TcpCoalescer();
        Assert.True(joiner.TryStart(segment));
        var framed = joiner.Take().ToArray();
        Assert.Equal(new VirtioNetHeader(VirtioNetHeader.DataValid, 0, 0, 0, 0, 0), VirtioNetHeader.Read(framed));
        Assert.Equal(segment, framed[VirtioNetHeader.Length..]);
        Assert.Equal(0, joiner.Joined);
    }

    public static TheoryData<string> NotJoined => ["out of order", "other flow", "bad checksum", "after a short segment", "after PSH", "FIN", "pure ACK", "other window", "UDP"];

    [Theory]
    [MemberData(nameof(NotJoined))]
    public void What_gro_would_not_join_is_not_joined(string what)
    {
        var segments = Segments(v4: true, payload: 5000, flags: Ack);
        var first = segments[0];
        var next = segments[1];
        var startsRun = true;
        switch (what)
        {
            case "out of order": next = segments[2]; break;
            case "other flow": next[21] ^= 1; Fix(next); break;
            case "bad checksum": next[100] ^= 0xFF; break;
            case "after a short segment": first = segments[3]; next = Segments(v4: true, payload: 5000, flags: Ack, sequence: 1000 + 4344 + 656)[0]; break;
            case "after PSH": first[33] |= Psh; Fix(first); break;
            case "FIN": first[33] |= Fin; Fix(first); startsRun = false; break;
            case "pure ACK": first = first[..52]; BinaryPrimitives.WriteUInt16BigEndian(first.AsSpan(2), 52); Fix(first); startsRun = false; break;
            case "other window": next[35] ^= 1; Fix(next); break;
            case "UDP": first = DataPlanePackets.Udp("10.9.0.5", "172.16.4.10", 1, 2, 200, offset: 0); startsRun = false; break;
        }

        var joiner = new TcpCoalescer();
        Assert.Equal(startsRun, joiner.TryStart(first));
        if (startsRun) Assert.False(joiner.TryAppend(next), what);
        Assert.Equal(0, joiner.Joined);
    }

    // A segment edited by a test gets its IPv4 and TCP checksums made right again, so only the edit stands in the way.
    private static void Fix(byte[] s)
    {
        BinaryPrimitives.WriteUInt16BigEndian(s.AsSpan(10), 0);
        BinaryPrimitives.WriteUInt16BigEndian(s.AsSpan(10), InternetChecksum.Finish(InternetChecksum.Add(0, s.AsSpan(0, 20))));
        BinaryPrimitives.WriteUInt16BigEndian(s.AsSpan(36), 0);
        var pseudo = InternetChecksum.Add(0, s.AsSpan(12, 8)) + 6u + (uint)(s.Length - 20);
        BinaryPrimitives.WriteUInt16BigEndian(s.AsSpan(36), InternetChecksum.Finish(InternetChecksum.Add(pseudo, s.AsSpan(20))));
    }
}
