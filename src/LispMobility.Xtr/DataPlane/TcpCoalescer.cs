using System.Buffers.Binary;
using LispMobility.Lisp.Wire;

namespace LispMobility.Xtr.DataPlane;

/// <summary>
/// The ETR's receive offload (what GRO does in a NIC driver): consecutive decapsulated segments of one TCP flow are joined
/// into one super-packet, written to the TUN once with a virtio-net header that asks for segmentation, so the host's stack
/// takes 64 KB at a time instead of one segment per packet. Joins only what GRO would: data segments with ACK (PSH
/// ends a run) whose checksum verifies, in sequence, with the same IP and TCP headers but for length, ID and sequence.
/// Sans I/O: <see cref="TryAppend"/> joins a segment to the pending run, <see cref="TryStart"/> begins one, <see cref="Take"/>
/// gives the run with its header. One loop owns it.
/// </summary>
public sealed class TcpCoalescer
{
    private const byte Ack = 0x10, Psh = 0x08;
    private readonly CoalescedRun _run = new();
    private int _transport;
    private int _headers;
    private int _size;

    /// <summary>Whether a run is pending (then <see cref="Take"/> before anything else is written, to keep the order).</summary>
    public bool HasRun => _run.Length > 0;

    /// <summary>Runs of two segments or more written as one super-packet.</summary>
    public long Joined { get; private set; }

    /// <summary>Joins <paramref name="packet"/> to the pending run when it continues it; false otherwise (nothing changes).</summary>
    public bool TryAppend(ReadOnlySpan<byte> packet)
    {
        if (_run.Length == 0 || _run.Closed || packet.Length <= _headers || _run.Length + packet.Length - _headers > CoalescedRun.MaxLength) return false;
        var run = _run.Packet;
        var payload = packet.Length - _headers;
        if (payload > _size || !Candidate(packet, out var transport, out var headers) || transport != _transport || headers != _headers) return false;
        // Same addresses, ports, TOS/traffic class, TTL/hop limit, DF, ack number, window and options; the next sequence number.
        var v4 = run[0] >> 4 == 4;
        if (v4 ? !packet[..2].SequenceEqual(run[..2]) || packet[6] != run[6] || !packet.Slice(8, 2).SequenceEqual(run.Slice(8, 2)) || !packet.Slice(12, 8).SequenceEqual(run.Slice(12, 8))
               : !packet[..4].SequenceEqual(run[..4]) || !packet.Slice(6, 34).SequenceEqual(run.Slice(6, 34)))
        {
            return false;
        }

        var t = transport;
        // Ports; ack number and data offset; the window (the flags byte between may differ by PSH only, which Candidate checked).
        if (!packet.Slice(t, 4).SequenceEqual(run.Slice(t, 4)) || !packet.Slice(t + 8, 5).SequenceEqual(run.Slice(t + 8, 5))
            || !packet.Slice(t + 14, 2).SequenceEqual(run.Slice(t + 14, 2))
            || !packet.Slice(t + 20, headers - t - 20).SequenceEqual(run.Slice(t + 20, headers - t - 20))
            || BinaryPrimitives.ReadUInt32BigEndian(packet[(t + 4)..]) != BinaryPrimitives.ReadUInt32BigEndian(run[(t + 4)..]) + (uint)(_run.Length - _headers))
        {
            return false;
        }

        // The stack trusts a super-packet's partial checksum, so every segment joined must verify. The payload starts a whole
        // number of 32-bit words into the TCP header, so its sum adds to the header's as it is.
        var sum = IpPacket.PseudoHeaderSum(packet, v4, packet.Length - t, IpPacket.Tcp) + InternetChecksum.Add(0, packet[t..headers]);
        if (!_run.TryAppend(packet[headers..], sum, check: true)) return false;
        // A short segment or PSH ends the run, as in GRO: what follows is a new write by the sender.
        if (payload < _size || (packet[t + 13] & Psh) != 0)
        {
            _run.Closed = true;
            _run.Packet[t + 13] |= (byte)(packet[t + 13] & Psh);
        }

        return true;
    }

    /// <summary>Begins a run with <paramref name="packet"/> when it is a data segment that may be joined; false otherwise.</summary>
    public bool TryStart(ReadOnlySpan<byte> packet)
    {
        if (_run.Length != 0) throw new InvalidOperationException("a run is pending: take it first");
        if (!Candidate(packet, out var transport, out var headers) || packet.Length == headers || packet.Length > CoalescedRun.MaxLength) return false;
        var pseudo = IpPacket.PseudoHeaderSum(packet, transport == IpPacket.IPv4HeaderLength, packet.Length - transport, IpPacket.Tcp);
        if (!_run.TryStart(packet, transport, pseudo, check: true, closed: (packet[transport + 13] & Psh) != 0)) return false;
        _transport = transport;
        _headers = headers;
        _size = packet.Length - headers;
        return true;
    }

    /// <summary>
    /// The pending run with its virtio-net header before it, and no run pending after. One segment goes as it came (its
    /// checksum marked verified); two or more as a super-packet whose TCP checksum is left partial for the stack, with the
    /// header's segment size the first segment's payload.
    /// </summary>
    public ReadOnlySpan<byte> Take()
    {
        if (_run.Length == 0) return default;
        if (_run.Segments == 1) return _run.Take(VirtioNetHeader.Verified);
        var packet = _run.Packet;
        var v4 = packet[0] >> 4 == 4;
        IpPacket.SetLength(packet);
        // Partial: the field holds the pseudo-header's folded sum, as a sender's stack leaves it for its NIC.
        var pseudo = IpPacket.PseudoHeaderSum(packet, v4, packet.Length - _transport, IpPacket.Tcp);
        BinaryPrimitives.WriteUInt16BigEndian(packet[(_transport + 16)..], (ushort)~InternetChecksum.Finish(pseudo));
        Joined++;
        return _run.Take(new VirtioNetHeader(VirtioNetHeader.NeedsChecksum, v4 ? VirtioNetHeader.GsoTcpV4 : VirtioNetHeader.GsoTcpV6,
            (ushort)_headers, (ushort)_size, (ushort)_transport, 16));
    }

    // IPv4 without options or fragments, IPv6 without extension headers; TCP with ACK and nothing but PSH beside it.
    private static bool Candidate(ReadOnlySpan<byte> packet, out int transport, out int headers)
    {
        transport = headers = 0;
        if (packet.Length < IpPacket.IPv4HeaderLength) return false;
        switch (packet[0])
        {
            case 0x45 when packet[9] == IpPacket.Tcp && (BinaryPrimitives.ReadUInt16BigEndian(packet[6..]) & 0xBFFF) == 0
                           && BinaryPrimitives.ReadUInt16BigEndian(packet[2..]) == packet.Length:
                transport = IpPacket.IPv4HeaderLength;
                break;
            case >= 0x60 and < 0x70 when packet.Length >= IpPacket.IPv6HeaderLength && packet[6] == IpPacket.Tcp
                                         && IpPacket.IPv6HeaderLength + BinaryPrimitives.ReadUInt16BigEndian(packet[4..]) == packet.Length:
                transport = IpPacket.IPv6HeaderLength;
                break;
            default:
                return false;
        }

        if (packet.Length < transport + 20) return false;
        headers = transport + (packet[transport + 12] >> 4) * 4;
        return headers >= transport + 20 && headers <= packet.Length && (packet[transport + 13] & ~Psh) == Ack;
    }
}
