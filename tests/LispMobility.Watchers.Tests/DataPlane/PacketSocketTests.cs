using System.Net;
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
}
