using System.Buffers.Binary;
using System.Net;
using System.Net.NetworkInformation;

namespace LispMobility.Watchers.DataPlane;

/// <summary>What a captured frame says about the host that sent it.</summary>
public enum NeighborSignal
{
    /// <summary>ARP with sender IP = target IP (RFC 5227 announcement), request or reply.</summary>
    GratuitousArp,
    /// <summary>An ordinary ARP request: the sender's IP and MAC.</summary>
    ArpRequest,
    /// <summary>An ARP reply: the sender's IP and MAC (also the answer to a liveness probe).</summary>
    ArpReply,
    /// <summary>RARP (ethertype 0x8035), as ESXi sends after a vMotion: a MAC, no IP.</summary>
    Rarp,
    /// <summary>ICMPv6 NA with the Solicited flag clear (RFC 4861 §7.2.6).</summary>
    UnsolicitedNeighborAdvertisement,
    /// <summary>ICMPv6 NA answering a solicitation.</summary>
    SolicitedNeighborAdvertisement,
    /// <summary>ICMPv6 NS from the unspecified address: duplicate address detection of the target (RFC 4862 §5.4).</summary>
    DuplicateAddressDetection,
    /// <summary>Any other IPv4/IPv6 packet: its source address.</summary>
    IpPacket,
}

/// <summary>A frame reduced to the facts the sniffer needs: signal, sender MAC, sender (or tentative) address.</summary>
public readonly record struct NeighborFrame(NeighborSignal Signal, PhysicalAddress Mac, IPAddress? Address);

/// <summary>Reads Ethernet frames (optionally 802.1Q-tagged) carrying ARP, RARP, IPv4 or IPv6; never throws on bad input.</summary>
public static class NeighborFrameReader
{
    internal const ushort EtherTypeIPv4 = 0x0800;
    internal const ushort EtherTypeArp = 0x0806;
    internal const ushort EtherTypeRarp = 0x8035;
    internal const ushort EtherTypeIPv6 = 0x86DD;
    private const ushort EtherTypeVlan = 0x8100;
    private const int ArpLength = 28;
    private const byte IcmpV6 = 58;

    /// <summary>
    /// Reads one frame. False with a reason (naming the field and byte offset) for a malformed or uninteresting frame;
    /// the reason is null when the frame was well formed but says nothing about a host (e.g. an NS from a known address).
    /// </summary>
    public static bool TryRead(ReadOnlySpan<byte> frame, out NeighborFrame result, out string? reason)
    {
        result = default;
        if (frame.Length < 14) { reason = $"Ethernet header truncated: {frame.Length} of 14 bytes"; return false; }
        var source = new PhysicalAddress(frame.Slice(6, 6).ToArray());
        var offset = 12;
        var etherType = BinaryPrimitives.ReadUInt16BigEndian(frame[offset..]);
        if (etherType == EtherTypeVlan)
        {
            if (frame.Length < 18) { reason = "802.1Q tag truncated at offset 12"; return false; }
            offset = 16;
            etherType = BinaryPrimitives.ReadUInt16BigEndian(frame[offset..]);
        }
        var payload = frame[(offset + 2)..];
        var payloadOffset = offset + 2;
        return etherType switch
        {
            EtherTypeArp or EtherTypeRarp => TryReadArp(payload, payloadOffset, etherType == EtherTypeRarp, out result, out reason),
            EtherTypeIPv4 => TryReadIPv4(payload, payloadOffset, source, out result, out reason),
            EtherTypeIPv6 => TryReadIPv6(payload, payloadOffset, source, out result, out reason),
            _ => Ignore(out reason),
        };
    }

    private static bool Ignore(out string? reason) { reason = null; return false; }

    private static bool TryReadArp(ReadOnlySpan<byte> arp, int at, bool rarp, out NeighborFrame result, out string? reason)
    {
        result = default;
        if (arp.Length < ArpLength) { reason = $"ARP body truncated at offset {at}: {arp.Length} of {ArpLength} bytes"; return false; }
        var hardware = BinaryPrimitives.ReadUInt16BigEndian(arp);
        var protocol = BinaryPrimitives.ReadUInt16BigEndian(arp[2..]);
        if (hardware != 1 || protocol != EtherTypeIPv4 || arp[4] != 6 || arp[5] != 4)
        {
            reason = $"ARP at offset {at} is not Ethernet/IPv4 (htype {hardware}, ptype 0x{protocol:x4}, hlen {arp[4]}, plen {arp[5]})";
            return false;
        }
        var operation = BinaryPrimitives.ReadUInt16BigEndian(arp[6..]);
        var senderMac = new PhysicalAddress(arp.Slice(8, 6).ToArray());
        var senderIp = new IPAddress(arp.Slice(14, 4));
        var targetIp = new IPAddress(arp.Slice(24, 4));
        reason = null;
        if (rarp)
        {
            // RFC 903: operation 3 is a request, whose sender hardware address is the host's own MAC.
            if (operation != 3) return false;
            result = new NeighborFrame(NeighborSignal.Rarp, senderMac, null);
            return true;
        }
        if (operation is not (1 or 2)) { reason = $"ARP operation {operation} at offset {at + 6} is unknown"; return false; }
        // Sender 0.0.0.0 is an RFC 5227 probe: the host does not own the address yet.
        if (senderIp.Equals(IPAddress.Any)) return false;
        var signal = senderIp.Equals(targetIp) ? NeighborSignal.GratuitousArp
            : operation == 1 ? NeighborSignal.ArpRequest : NeighborSignal.ArpReply;
        result = new NeighborFrame(signal, senderMac, senderIp);
        return true;
    }

    private static bool TryReadIPv4(ReadOnlySpan<byte> ip, int at, PhysicalAddress source, out NeighborFrame result, out string? reason)
    {
        result = default;
        if (ip.Length < 20) { reason = $"IPv4 header truncated at offset {at}: {ip.Length} of 20 bytes"; return false; }
        if (ip[0] >> 4 != 4) { reason = $"IPv4 version field is {ip[0] >> 4} at offset {at}"; return false; }
        var sender = new IPAddress(ip.Slice(12, 4));
        reason = null;
        if (sender.Equals(IPAddress.Any)) return false; // DHCP discover and the like
        result = new NeighborFrame(NeighborSignal.IpPacket, source, sender);
        return true;
    }

    private static bool TryReadIPv6(ReadOnlySpan<byte> ip, int at, PhysicalAddress source, out NeighborFrame result, out string? reason)
    {
        result = default;
        if (ip.Length < 40) { reason = $"IPv6 header truncated at offset {at}: {ip.Length} of 40 bytes"; return false; }
        if (ip[0] >> 4 != 6) { reason = $"IPv6 version field is {ip[0] >> 4} at offset {at}"; return false; }
        var payloadLength = BinaryPrimitives.ReadUInt16BigEndian(ip[4..]);
        if (payloadLength > ip.Length - 40)
        {
            reason = $"IPv6 payload length {payloadLength} at offset {at + 4} exceeds the {ip.Length - 40} bytes captured";
            return false;
        }
        var sender = new IPAddress(ip.Slice(8, 16));
        var body = ip.Slice(40, payloadLength);
        reason = null;
        // Neighbor Discovery never carries extension headers before ICMPv6 (RFC 4861 §6.1: hop limit 255, no HBH needed).
        if (ip[6] == IcmpV6 && body.Length >= 24 && body[0] is 135 or 136)
        {
            var target = new IPAddress(body.Slice(8, 16));
            if (body[0] == 136)
            {
                var solicited = (body[4] & 0x40) != 0;
                var mac = TargetLinkLayerAddress(body[24..]) ?? source;
                result = new NeighborFrame(solicited ? NeighborSignal.SolicitedNeighborAdvertisement : NeighborSignal.UnsolicitedNeighborAdvertisement, mac, target);
                return true;
            }
            if (sender.Equals(IPAddress.IPv6Any))
            {
                result = new NeighborFrame(NeighborSignal.DuplicateAddressDetection, source, target);
                return true;
            }
            return false; // an ordinary NS: the sender address is reported by the NA that answers it
        }
        if (sender.Equals(IPAddress.IPv6Any)) return false;
        result = new NeighborFrame(NeighborSignal.IpPacket, source, sender);
        return true;
    }

    // RFC 4861 §4.6.1: option type 2, length in units of 8 bytes.
    private static PhysicalAddress? TargetLinkLayerAddress(ReadOnlySpan<byte> options)
    {
        while (options.Length >= 8)
        {
            var length = options[1] * 8;
            if (length == 0 || length > options.Length) return null;
            if (options[0] == 2) return new PhysicalAddress(options.Slice(2, 6).ToArray());
            options = options[length..];
        }
        return null;
    }
}
