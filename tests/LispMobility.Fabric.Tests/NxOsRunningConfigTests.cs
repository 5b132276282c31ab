using LispMobility.Fabric.NxOs;

namespace LispMobility.Fabric.Tests;

public sealed class NxOsRunningConfigTests
{
    [Fact]
    public void Parses_an_svi_block_with_nested_hsrp_groups_and_stops_at_the_next_block()
    {
        const string text = """
            !Command: show running-config interface Vlan120

            interface Vlan120
              no shutdown
              ip address 10.20.0.2/24
              ip proxy-arp
              hsrp version 2
              hsrp 7 
                ip 10.20.0.7
              hsrp 120 
                preempt 
                priority 110
                ip 10.20.0.1
                mac-address 0000.0C9F.F078

            interface Vlan121
              ip proxy-arp
            """;

        var svi = NxOsRunningConfig.Svi(text, 120);

        Assert.True(svi.Exists && svi.AdminUp && svi.ProxyArp);
        Assert.Equal(2, svi.HsrpVersion);
        Assert.Equal(new NxOsHsrpGroup(120, "10.20.0.1", "0000.0c9f.f078", 110), svi.Groups[120]);
        Assert.Equal(new NxOsHsrpGroup(7, "10.20.0.7", null, null), svi.Groups[7]);
    }

    [Fact]
    public void An_output_without_the_interface_block_means_absent() =>
        Assert.False(NxOsRunningConfig.Svi("!Command: show running-config interface Vlan99\n\nversion 9.3(8)\n", 99).Exists);

    [Fact]
    public void Vlan12_is_not_mistaken_for_vlan120() =>
        Assert.False(NxOsRunningConfig.Svi("interface Vlan120\n  ip proxy-arp\n", 12).Exists);
}
