using System.Buffers.Binary;
using System.Net;
using System.Net.NetworkInformation;
using System.Runtime.Versioning;
using LispMobility.Watchers.DataPlane;

namespace LispMobility.Watchers.Tests.DataPlane;

/// <summary>The sniffer's AF_PACKET socket on the host end of a veth, against frames leaving and entering the interface.</summary>
[SupportedOSPlatform("linux")]
public sealed class PacketSocketTests : IDisposable
{
    private readonly VethNamespace _net = new();

    public void Dispose() => _net.Dispose();

    [Fact]
    public void Frames_the_host_sends_out_of_the_interface_are_dropped_in_the_kernel_and_what_the_vm_sends_arrives()
    {
        using var sniffer = PacketSocket.Open(_net.HostEnd, promiscuous: false, TimeSpan.FromMilliseconds(200), 1 << 20);
        using var sender = PacketSocket.Open(_net.HostEnd, promiscuous: false, TimeSpan.FromMilliseconds(200), 1 << 20);
        using var vm = _net.OpenVmCard();

        // 200 frames out of the host end (what a data-plane site delivers to its VMs), then one from the VM.
        var host = IPAddress.Parse("10.77.0.1");
        for (var i = 0; i < 200; i++) sender.Send(NeighborFrames.Arp(2, sender.Mac, host, IPAddress.Parse("10.77.0.2"), _net.VmMac));
        var ip = IPAddress.Parse("10.77.0.2");
        vm.Send(NeighborFrames.Arp(1, _net.VmMac, ip, ip));

        var buffer = new byte[2048];
        var length = sniffer.Receive(buffer, out var type);
        Assert.True(length > 0, "nothing arrived from the VM");
        Assert.NotEqual(PacketSocket.PacketOutgoing, type);
        Assert.Equal(_net.VmMac.GetAddressBytes(), buffer[6..12]);
        Assert.Equal(-1, sniffer.Receive(buffer, out _));
    }

    [Fact]
    public void With_the_known_senders_filter_the_kernel_drops_their_ip_packets_and_lets_everything_that_could_be_news_through()
    {
        using var sniffer = PacketSocket.Open(_net.HostEnd, promiscuous: false, TimeSpan.FromMilliseconds(200), 1 << 20);
        using var vm = _net.OpenVmCard();
        var (v4, v6) = (IPAddress.Parse("10.77.0.2"), IPAddress.Parse("2001:db8:77::2"));
        var other = PhysicalAddress.Parse("02-00-5E-10-00-09");
        Assert.True(sniffer.TrySetFilter(SenderFilter.Build([(_net.VmMac, v4), (_net.VmMac, v6)], SenderFilter.MaxInstructions, out var held, out var left), out var error), error);
        Assert.Equal((2, 0), (held, left));

        // Marked by their last byte: dropped ones are 0x0D, the ones that must arrive count up.
        vm.Send(Frame(_net.VmMac, v4, 0x0D));                             // a known sender's IPv4 packet
        vm.Send(Frame(_net.VmMac, v6, 0x0D));                             // its IPv6 packet
        vm.Send(Frame(_net.VmMac, IPAddress.Parse("10.77.0.3"), 1));      // the same MAC with another address
        vm.Send(Frame(other, v4, 2));                                      // the same address from another MAC
        vm.Send(Frame(_net.VmMac, v6, 3, protocol: 58));                   // ICMPv6 (Neighbor Discovery) from a known sender
        vm.Send(Frame(_net.VmMac, IPAddress.Parse("2001:db8:77::3"), 4));  // an IPv6 address not known
        vm.Send(NeighborFrames.Arp(1, _net.VmMac, v4, v4));                // an announcement

        var buffer = new byte[2048];
        var arrived = new List<int>();
        for (int n; (n = sniffer.Receive(buffer, out _)) > 0;) arrived.Add(buffer[12] == 0x08 && buffer[13] == 0x06 ? 5 : buffer[n - 1]);
        Assert.Equal([1, 2, 3, 4, 5], arrived);
    }

    [Fact]
    public void Past_its_instruction_budget_the_filter_leaves_senders_out_and_the_kernel_takes_it()
    {
        using var sniffer = PacketSocket.Open(_net.HostEnd, promiscuous: false, TimeSpan.FromMilliseconds(200), 1 << 20);
        var senders = Enumerable.Range(0, 700).Select(i => (PhysicalAddress.Parse($"02-00-5E-00-{i >> 8:X2}-{i & 0xFF:X2}"), new IPAddress([10, 78, (byte)(i >> 8), (byte)i])))
            .Concat(Enumerable.Range(0, 10).Select(i => (PhysicalAddress.Parse($"02-00-5E-01-00-{i:X2}"), IPAddress.Parse($"2001:db8:78::{i + 1}")))).ToList();

        foreach (var budget in new[] { 64, 512, 1024 })
        {
            var program = SenderFilter.Build(senders, budget, out var held, out var left);
            Assert.True(program.Length <= budget, $"{program.Length} instructions");
            Assert.Equal((budget - SenderFilter.BaseInstructions) / 7, held);
            Assert.Equal(710 - held, left);
            Assert.True(sniffer.TrySetFilter(program, out var error), $"{budget}: {error}");
        }
    }

    // An Ethernet frame with an IPv4 or IPv6 header from source (to 10.77.0.1 / 2001:db8:77::1) and one byte of payload, mark.
    private static byte[] Frame(PhysicalAddress mac, IPAddress source, byte mark, byte protocol = 17)
    {
        var v4 = source.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork;
        var frame = new byte[14 + (v4 ? 20 : 40) + 1];
        Array.Fill(frame, (byte)0xFF, 0, 6);
        mac.GetAddressBytes().CopyTo(frame, 6);
        BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(12), v4 ? (ushort)0x0800 : (ushort)0x86DD);
        var ip = frame.AsSpan(14);
        if (v4)
        {
            ip[0] = 0x45;
            BinaryPrimitives.WriteUInt16BigEndian(ip[2..], 21);
            ip[8] = 64;
            ip[9] = protocol;
            source.GetAddressBytes().CopyTo(ip[12..]);
            IPAddress.Parse("10.77.0.1").GetAddressBytes().CopyTo(ip[16..]);
        }
        else
        {
            ip[0] = 0x60;
            BinaryPrimitives.WriteUInt16BigEndian(ip[4..], 1);
            ip[6] = protocol;
            ip[7] = 64;
            source.GetAddressBytes().CopyTo(ip[8..]);
            IPAddress.Parse("2001:db8:77::1").GetAddressBytes().CopyTo(ip[24..]);
        }

        frame[^1] = mark;
        return frame;
    }
}
