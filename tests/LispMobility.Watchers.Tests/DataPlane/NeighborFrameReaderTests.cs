using System.Net;
using System.Net.NetworkInformation;
using LispMobility.Watchers.DataPlane;

namespace LispMobility.Watchers.Tests.DataPlane;

public sealed class NeighborFrameReaderTests
{
    private static readonly PhysicalAddress Mac = PhysicalAddress.Parse("00-0C-29-33-34-38");

    [Fact]
    public void Gratuitous_arp_request_and_reply_and_plain_arp()
    {
        var ip = IPAddress.Parse("10.0.0.42");
        Read(NeighborFrames.Arp(1, Mac, ip, ip), NeighborSignal.GratuitousArp, ip);
        Read(NeighborFrames.Arp(2, Mac, ip, ip), NeighborSignal.GratuitousArp, ip);
        Read(NeighborFrames.Arp(1, Mac, ip, IPAddress.Parse("10.0.0.1")), NeighborSignal.ArpRequest, ip);
        Read(NeighborFrames.Arp(2, Mac, ip, IPAddress.Parse("10.0.0.1")), NeighborSignal.ArpReply, ip);
    }

    [Fact]
    public void Golden_vmware_rarp_frame_gives_the_mac_only()
    {
        // As ESXi sends after vMotion: broadcast, ethertype 0x8035, op 3, sender = target = the VM's MAC, no IPs.
        var frame = Convert.FromHexString("ffffffffffff000c29333438" + "8035" + "0001080006040003" + "000c29333438" + "00000000" + "000c29333438" + "00000000");
        Assert.Equal(NeighborFrames.Rarp(Mac), frame);
        Read(frame, NeighborSignal.Rarp, null);
    }

    [Fact]
    public void Unsolicited_na_takes_the_mac_from_the_target_link_layer_option()
    {
        var target = IPAddress.Parse("2001:db8::42");
        var frame = NeighborFrames.UnsolicitedNeighborAdvertisement(Mac, target);
        frame[6] = 0xee; // a different Ethernet source: the option is what names the owner
        Read(frame, NeighborSignal.UnsolicitedNeighborAdvertisement, target);
    }

    [Fact]
    public void Ns_from_unspecified_is_dad_of_the_target()
    {
        var target = IPAddress.Parse("2001:db8::7");
        var frame = NeighborFrames.NeighborSolicitation(Mac, target);
        Read(frame, NeighborSignal.DuplicateAddressDetection, target);
        Assert.Equal("3333ff000007", Convert.ToHexString(frame, 0, 6).ToLowerInvariant());
    }

    [Fact]
    public void Ipv4_packet_gives_its_source_and_a_vlan_tag_is_skipped()
    {
        var frame = Convert.FromHexString("ffffffffffff000c29333438" + "8100" + "0064" + "0800" + "4500001c000000004001" + "0000" + "0a000063" + "0a000001");
        Read(frame, NeighborSignal.IpPacket, IPAddress.Parse("10.0.0.99"));
    }

    [Fact]
    public void Truncation_at_every_byte_is_refused_without_throwing()
    {
        foreach (var frame in new[]
                 {
                     NeighborFrames.Arp(1, Mac, IPAddress.Parse("10.0.0.1"), IPAddress.Parse("10.0.0.1")),
                     NeighborFrames.Rarp(Mac),
                     NeighborFrames.UnsolicitedNeighborAdvertisement(Mac, IPAddress.Parse("2001:db8::1")),
                 })
        {
            for (var length = 0; length < frame.Length; length++)
            {
                Assert.False(NeighborFrameReader.TryRead(frame.AsSpan(0, length), out _, out var reason), $"length {length}");
                Assert.NotNull(reason);
            }
        }
    }

    [Fact]
    public void Arp_probe_and_non_ethernet_arp_are_not_sightings()
    {
        Assert.False(NeighborFrameReader.TryRead(NeighborFrames.ArpProbe(Mac, IPAddress.Parse("10.0.0.5")), out _, out var reason));
        Assert.Null(reason);
        var frame = NeighborFrames.Arp(1, Mac, IPAddress.Parse("10.0.0.1"), IPAddress.Parse("10.0.0.2"));
        frame[15] = 6; // htype IEEE 802 is not Ethernet
        Assert.False(NeighborFrameReader.TryRead(frame, out _, out reason));
        Assert.Contains("htype 6", reason, StringComparison.Ordinal);
    }

    private static void Read(byte[] frame, NeighborSignal signal, IPAddress? address)
    {
        Assert.True(NeighborFrameReader.TryRead(frame, out var result, out var reason), reason);
        Assert.Equal(signal, result.Signal);
        Assert.Equal(Mac, result.Mac);
        Assert.Equal(address, result.Address);
    }
}
