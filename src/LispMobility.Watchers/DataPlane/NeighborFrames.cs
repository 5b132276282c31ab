using System.Buffers.Binary;
using System.Net;
using System.Net.NetworkInformation;
using System.Net.Sockets;

namespace LispMobility.Watchers.DataPlane;

/// <summary>Writes the few Ethernet frames the sniffer sends (liveness probes) and a lab sends (announcements).</summary>
public static class NeighborFrames
{
    private static readonly PhysicalAddress Broadcast = PhysicalAddress.Parse("FF-FF-FF-FF-FF-FF");

    /// <summary>An ARP frame: operation 1 request, 2 reply (RFC 826); a gratuitous ARP has <paramref name="targetIp"/> = <paramref name="senderIp"/>.</summary>
    public static byte[] Arp(ushort operation, PhysicalAddress senderMac, IPAddress senderIp, IPAddress targetIp, PhysicalAddress? destination = null) =>
        ArpLike(NeighborFrameReader.EtherTypeArp, operation, senderMac, senderIp, targetIp, destination ?? Broadcast);

    /// <summary>An RFC 5227 ARP probe for <paramref name="targetIp"/> (sender 0.0.0.0): the owner answers without learning anything from us.</summary>
    public static byte[] ArpProbe(PhysicalAddress senderMac, IPAddress targetIp) =>
        ArpLike(NeighborFrameReader.EtherTypeArp, 1, senderMac, IPAddress.Any, targetIp, Broadcast);

    /// <summary>An RFC 903 RARP request for <paramref name="mac"/>, broadcast, as ESXi sends after a vMotion.</summary>
    public static byte[] Rarp(PhysicalAddress mac) =>
        ArpLike(NeighborFrameReader.EtherTypeRarp, 3, mac, IPAddress.Any, IPAddress.Any, Broadcast, mac);

    /// <summary>An unsolicited NA (override flag set) to all-nodes ff02::1, with the target link-layer address option.</summary>
    public static byte[] UnsolicitedNeighborAdvertisement(PhysicalAddress mac, IPAddress target)
    {
        var body = new byte[32];
        body[0] = 136;
        body[4] = 0x20; // O flag; S clear makes it unsolicited
        target.TryWriteBytes(body.AsSpan(8, 16), out _);
        body[24] = 2; body[25] = 1;
        mac.GetAddressBytes().CopyTo(body, 26);
        return IPv6(mac, PhysicalAddress.Parse("33-33-00-00-00-01"), target, IPAddress.Parse("ff02::1"), body);
    }

    /// <summary>An NS for <paramref name="target"/> from the unspecified address (the owner answers to ff02::1), to its solicited-node group.</summary>
    public static byte[] NeighborSolicitation(PhysicalAddress senderMac, IPAddress target)
    {
        var body = new byte[24];
        body[0] = 135;
        target.TryWriteBytes(body.AsSpan(8, 16), out _);
        Span<byte> t = stackalloc byte[16];
        target.TryWriteBytes(t, out _);
        var group = new byte[16] { 0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0xff, t[13], t[14], t[15] };
        var groupMac = new PhysicalAddress([0x33, 0x33, 0xff, t[13], t[14], t[15]]);
        return IPv6(senderMac, groupMac, IPAddress.IPv6Any, new IPAddress(group), body);
    }

    private static byte[] ArpLike(ushort etherType, ushort operation, PhysicalAddress senderMac, IPAddress senderIp, IPAddress targetIp,
        PhysicalAddress destination, PhysicalAddress? targetMac = null)
    {
        RequireIPv4(senderIp, nameof(senderIp));
        RequireIPv4(targetIp, nameof(targetIp));
        var frame = new byte[14 + 28];
        destination.GetAddressBytes().CopyTo(frame, 0);
        senderMac.GetAddressBytes().CopyTo(frame, 6);
        BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(12), etherType);
        var arp = frame.AsSpan(14);
        BinaryPrimitives.WriteUInt16BigEndian(arp, 1);
        BinaryPrimitives.WriteUInt16BigEndian(arp[2..], NeighborFrameReader.EtherTypeIPv4);
        arp[4] = 6; arp[5] = 4;
        BinaryPrimitives.WriteUInt16BigEndian(arp[6..], operation);
        senderMac.GetAddressBytes().CopyTo(arp[8..]);
        senderIp.TryWriteBytes(arp[14..], out _);
        (targetMac?.GetAddressBytes() ?? new byte[6]).CopyTo(arp[18..]);
        targetIp.TryWriteBytes(arp[24..], out _);
        return frame;
    }

    private static byte[] IPv6(PhysicalAddress sourceMac, PhysicalAddress destinationMac, IPAddress source, IPAddress destination, byte[] icmp)
    {
        var frame = new byte[14 + 40 + icmp.Length];
        destinationMac.GetAddressBytes().CopyTo(frame, 0);
        sourceMac.GetAddressBytes().CopyTo(frame, 6);
        BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(12), NeighborFrameReader.EtherTypeIPv6);
        var ip = frame.AsSpan(14);
        ip[0] = 0x60;
        BinaryPrimitives.WriteUInt16BigEndian(ip[4..], (ushort)icmp.Length);
        ip[6] = 58;
        ip[7] = 255; // RFC 4861: receivers drop ND with any other hop limit
        source.TryWriteBytes(ip[8..], out _);
        destination.TryWriteBytes(ip[24..], out _);
        icmp.CopyTo(ip[40..]);
        BinaryPrimitives.WriteUInt16BigEndian(ip[42..], IcmpV6Checksum(ip[8..24], ip[24..40], ip[40..]));
        return frame;
    }

    // RFC 4443 §2.3: one's-complement sum over the pseudo-header (addresses, length, next header) and the message.
    private static ushort IcmpV6Checksum(ReadOnlySpan<byte> source, ReadOnlySpan<byte> destination, ReadOnlySpan<byte> message)
    {
        ulong sum = 0;
        static ulong Add(ReadOnlySpan<byte> data)
        {
            ulong s = 0;
            for (var i = 0; i + 1 < data.Length; i += 2) s += BinaryPrimitives.ReadUInt16BigEndian(data[i..]);
            if (data.Length % 2 == 1) s += (ulong)data[^1] << 8;
            return s;
        }
        sum += Add(source) + Add(destination) + (ulong)message.Length + 58 + Add(message);
        while (sum >> 16 != 0) sum = (sum & 0xffff) + (sum >> 16);
        return (ushort)~sum;
    }

    private static void RequireIPv4(IPAddress address, string name)
    {
        if (address.AddressFamily != AddressFamily.InterNetwork) throw new ArgumentException("ARP carries IPv4 addresses only", name);
    }
}
