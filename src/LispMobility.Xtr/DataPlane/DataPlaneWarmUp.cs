using System.Buffers.Binary;
using LispMobility.Lisp.Addressing;
using LispMobility.Lisp.Records;
using LispMobility.Lisp.Messages;
using LispMobility.Xtr.Caching;

namespace LispMobility.Xtr.DataPlane;

/// <summary>
/// The data plane's per-packet path, run at start on throwaway engines beside the agent's warm-up of the move path. A site
/// that had no VM carries its first data packets when one arrives: its ETR's first delivery to a local EID, its ITR's first
/// miss, hold, release and encapsulation of the VM's replies, the TUN header's checksum completion, the ETR's coalescers.
/// Without this all of it is compiled inside the first live move's outage. Nothing here reaches a device, a socket, the
/// xTR's map-cache, counters or signals: every engine and cache is its own and dropped after.
/// </summary>
public static class DataPlaneWarmUp
{
    // Documentation addresses (RFC 5737, RFC 3849): never sent anywhere.
    private static readonly (string Itr, string Etr)[] Rlocs = [("192.0.2.1", "192.0.2.2"), ("2001:db8::1", "2001:db8::2")];
    private static readonly (string Source, string Destination)[] Eids = [("198.51.100.10", "203.0.113.10"), ("2001:db8:1::10", "2001:db8:2::10")];

    /// <summary>
    /// Sends an ICMP echo and a UDP datagram between two EIDs through an ITR and an ETR, for IPv4 and IPv6 EIDs over IPv4
    /// and IPv6 RLOCs: first on a map-cache miss (held, then released by the mapping's arrival), then on a hit, then to an
    /// EID that moved away. Returns how many packets the ETRs delivered (16 when the whole path ran).
    /// </summary>
    public static int Run(DateTimeOffset now)
    {
        var delivered = 0;
        foreach (var (itrRloc, etrRloc) in Rlocs)
        {
            foreach (var (source, destination) in Eids) delivered += RunPair(LispAddress.Parse(itrRloc), LispAddress.Parse(etrRloc), LispAddress.Parse(source), LispAddress.Parse(destination), now);
        }

        return delivered;
    }

    private static int RunPair(LispAddress itrRloc, LispAddress etrRloc, LispAddress source, LispAddress destination, DateTimeOffset now)
    {
        var counters = new DataPlaneCounters();
        var signals = NoDataPlaneSignals.Instance;
        var cache = new MapCache(16);
        var itr = new ItrEncapsulator(new DataPlaneSettings { LocalRlocs = [itrRloc] }, () => cache.Snapshot, counters, signals);
        var here = new LocalEids([], [destination], []);
        var away = new LocalEids([], [], [destination]);
        var eids = here;
        var etr = new EtrDecapsulator(new DataPlaneSettings { LocalRlocs = [etrRloc] }, () => eids, counters, signals);
        var tcp = new TcpCoalescer();
        var udp = new UdpCoalescer();
        var buffer = new byte[ItrEncapsulator.Headroom + 1500];
        var icmp = new byte[1500];
        // The ETR takes the outer UDP payload: the LISP header and the inner packet.
        var outerHeaders = (etrRloc.Kind == AddressKind.IPv4 ? PacketWriter.IPv4Overhead : PacketWriter.IPv6Overhead) - DataPlaneHeader.Length;
        // What the TUN's virtio-net header says of a packet that asks for nothing.
        var noOffload = VirtioNetHeader.Read(new byte[VirtioNetHeader.Length]);
        var delivered = 0;

        foreach (var protocol in (byte[])[source.Kind == AddressKind.IPv4 ? (byte)1 : (byte)58, IpPacket.Udp])
        {
            foreach (var step in (int[])[0, 1, 2])
            {
                var length = WritePacket(buffer.AsSpan(ItrEncapsulator.Headroom), source, destination, protocol);
                noOffload.TryCompleteChecksum(buffer.AsSpan(ItrEncapsulator.Headroom, length));
                var verdict = itr.Encapsulate(buffer, ItrEncapsulator.Headroom, length, now, icmp, out var output);
                if (verdict == ItrVerdict.Held)
                {
                    cache.Install(new MappingRecord { Eid = new EidPrefix(destination, destination.Kind == AddressKind.IPv4 ? 32 : 128), Locators = [new Locator(etrRloc, 1, 100)] }, now);
                    if (!itr.TryRelease(buffer, now, icmp, out verdict, out output)) continue;
                }

                if (verdict != ItrVerdict.Encapsulated) continue;
                // The last step finds the EID gone from the ETR's site: dropped there, and its ITR solicited.
                eids = step == 2 ? away : here;
                var payload = buffer.AsSpan(output)[outerHeaders..];
                if (!etr.TryDecapsulate(payload, etrRloc.Kind, IpPacket.Bits(itrRloc), IpPacket.Bits(etrRloc), now, out var inner)) continue;
                delivered++;
                var packet = payload[inner];
                if (tcp.TryAppend(packet) || udp.TryAppend(packet)) continue;
                if (tcp.HasRun) tcp.Take();
                if (udp.HasRun) udp.Take();
                if (!tcp.TryStart(packet)) udp.TryStart(packet);
            }
        }

        if (tcp.HasRun) tcp.Take();
        if (udp.HasRun) udp.Take();
        return delivered;
    }

    // An echo request (ICMP or ICMPv6) or a UDP datagram with 32 bytes of data; transport checksums left at 0, which no step checks.
    private static int WritePacket(Span<byte> p, LispAddress source, LispAddress destination, byte protocol)
    {
        const int Transport = 8 + 32;
        p.Clear();
        var v4 = source.Kind == AddressKind.IPv4;
        var header = v4 ? IpPacket.IPv4HeaderLength : IpPacket.IPv6HeaderLength;
        if (v4)
        {
            p[0] = 0x45;
            p[6] = 0x40;
            p[8] = 64;
            p[9] = protocol;
            source.ToIPAddress().TryWriteBytes(p[12..16], out _);
            destination.ToIPAddress().TryWriteBytes(p[16..20], out _);
        }
        else
        {
            p[0] = 0x60;
            p[6] = protocol;
            p[7] = 64;
            source.ToIPAddress().TryWriteBytes(p[8..24], out _);
            destination.ToIPAddress().TryWriteBytes(p[24..40], out _);
        }

        // The lengths, and the IPv4 header's checksum.
        IpPacket.SetLength(p[..(header + Transport)]);
        var t = p[header..];
        if (protocol == IpPacket.Udp)
        {
            BinaryPrimitives.WriteUInt16BigEndian(t, 40000);
            BinaryPrimitives.WriteUInt16BigEndian(t[2..], 7);
            BinaryPrimitives.WriteUInt16BigEndian(t[4..], Transport);
        }
        else
        {
            t[0] = (byte)(protocol == 1 ? 8 : 128);
        }

        return header + Transport;
    }
}
