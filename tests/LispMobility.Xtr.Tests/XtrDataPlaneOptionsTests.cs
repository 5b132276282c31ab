using LispMobility.Xtr.Configuration;

namespace LispMobility.Xtr.Tests;

/// <summary>The data plane's options are validated with the xTR's, each problem naming its path.</summary>
public sealed class DataPlaneOptionsTests
{
    [Fact]
    public void Off_needs_nothing_and_on_checks_the_tun_name_the_mtu_the_prefixes_and_the_miss_queue()
    {
        Assert.Empty(new XtrDataPlaneOptions { TunName = "", LinkMtu = 0 }.Validate("Xtr.DataPlane"));

        var errors = new XtrDataPlaneOptions
        {
            Enabled = true, TunName = "a/b", LinkMtu = 1300, RemoteEidPrefixes = ["10.0.0.0/8", "nope", "[7]10.1.0.0/16"], MissQueueDepth = 65, MissQueueDestinations = 0, Queues = 65,
        }.Validate("Xtr.DataPlane");

        Assert.Contains(errors, e => e.StartsWith("Xtr.DataPlane.TunName:", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("Xtr.DataPlane.LinkMtu: 1300", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("Xtr.DataPlane.RemoteEidPrefixes[1]:", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("Xtr.DataPlane.RemoteEidPrefixes[2]:", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("Xtr.DataPlane.MissQueueDepth: 65", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("Xtr.DataPlane.MissQueueDestinations: 0", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("Xtr.DataPlane.Queues: 65", StringComparison.Ordinal));
        Assert.Equal(7, errors.Count);
        Assert.Equal(Math.Clamp(Environment.ProcessorCount, 1, 8), new XtrDataPlaneOptions().EffectiveQueues);
        Assert.Equal(3, new XtrDataPlaneOptions { Queues = 3 }.EffectiveQueues);
        Assert.Empty(new XtrDataPlaneOptions { Enabled = true, RemoteEidPrefixes = ["0.0.0.0/0", "2001:db8::/32"] }.Validate("Xtr.DataPlane"));
    }

    [Fact]
    public void The_device_is_tun_or_veth_and_a_veths_name_leaves_room_for_its_peers()
    {
        Assert.Empty(new XtrDataPlaneOptions { Enabled = true, Device = "veth", TunName = "lisp0" }.Validate("Xtr.DataPlane"));
        Assert.Empty(new XtrDataPlaneOptions { Enabled = true, Device = "TUN", TunName = "fifteen-chars-x" }.Validate("Xtr.DataPlane"));
        Assert.Equal(["Xtr.DataPlane.Device: 'xdp' is neither 'tun' nor 'veth'"], new XtrDataPlaneOptions { Enabled = true, Device = "xdp" }.Validate("Xtr.DataPlane"));
        Assert.Equal(["Xtr.DataPlane.TunName: 'fifteen-chars-x' is longer than 14 characters, and the veth pair's far end adds a 'p'"],
            new XtrDataPlaneOptions { Enabled = true, Device = "veth", TunName = "fifteen-chars-x" }.Validate("Xtr.DataPlane"));
        Assert.True(new XtrDataPlaneOptions { Device = "Veth" }.UsesVeth);
        Assert.False(new XtrDataPlaneOptions().UsesVeth);
    }

    [Fact]
    public void The_fast_path_is_auto_on_or_off_with_a_decapsulation_device_of_its_own_and_a_port_that_is_not_lisps()
    {
        var defaults = new XtrDataPlaneOptions { Enabled = true };
        Assert.Equal("auto", defaults.FastPath);
        Assert.Equal("lisp0x", defaults.EffectiveFastPathDevice);
        Assert.Equal(4340, defaults.FastPathPort);
        Assert.Equal("fifteen-chars-x", new XtrDataPlaneOptions { TunName = "fifteen-chars-a" }.EffectiveFastPathDevice);
        Assert.Equal("vx9", new XtrDataPlaneOptions { FastPathDevice = "vx9" }.EffectiveFastPathDevice);
        Assert.Empty(new XtrDataPlaneOptions { Enabled = true, FastPath = "off" }.Validate("Xtr.DataPlane"));
        Assert.Empty(new XtrDataPlaneOptions { Enabled = true, FastPath = "bulk" }.Validate("Xtr.DataPlane"));
        Assert.Empty(new XtrDataPlaneOptions { Enabled = true, FastPath = "on", FastPathDevice = "lispdec", FastPathPort = 8472 }.Validate("Xtr.DataPlane"));

        var errors = new XtrDataPlaneOptions { Enabled = true, FastPath = "yes", FastPathDevice = "lisp0", FastPathPort = 4341 }.Validate("Xtr.DataPlane");
        Assert.Equal(
            [
                "Xtr.DataPlane.FastPath: 'yes' is none of auto, on, bulk, off",
                "Xtr.DataPlane.FastPathDevice: 'lisp0' is not an interface name of its own (up to 15 characters, no '/' or spaces, not the TUN's)",
                "Xtr.DataPlane.FastPathPort: 4341 is not a free UDP port (1-65535, not LISP's 4341 or 4342)",
            ], errors);
        Assert.Single(new XtrDataPlaneOptions { Enabled = true, FastPathDevice = "a/b" }.Validate("Xtr.DataPlane"));
        Assert.Single(new XtrDataPlaneOptions { Enabled = true, FastPathPort = 70000 }.Validate("Xtr.DataPlane"));
    }

    [Fact]
    public void The_xtr_options_report_the_data_planes_problems()
    {
        var options = new XtrOptions
        {
            Site = "a", Rlocs = [new LocatorOptions { Address = "192.0.2.1" }],
            MapServers = [new MapServerPeerOptions { Address = "192.0.2.99:4342", Key = "k" }],
            DataPlane = new XtrDataPlaneOptions { Enabled = true, LinkMtu = 100 },
        };

        Assert.Equal(["Xtr.DataPlane.LinkMtu: 100 is outside 1336-65535 (the TUN must still carry IPv6's 1280 after 56 bytes of encapsulation)"], options.Validate());
    }
}
