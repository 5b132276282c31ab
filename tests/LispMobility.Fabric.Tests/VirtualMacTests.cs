using System.Net.Sockets;

namespace LispMobility.Fabric.Tests;

public sealed class VirtualMacTests
{
    [Theory]
    [InlineData(FhrpKind.Hsrp, 1, 0, "0000.0c07.ac00")]
    [InlineData(FhrpKind.Hsrp, 1, 255, "0000.0c07.acff")]
    [InlineData(FhrpKind.Hsrp, 1, 10, "0000.0c07.ac0a")]
    [InlineData(FhrpKind.Hsrp, 2, 0, "0000.0c9f.f000")]
    [InlineData(FhrpKind.Hsrp, 2, 120, "0000.0c9f.f078")]
    [InlineData(FhrpKind.Hsrp, 2, 4095, "0000.0c9f.ffff")]
    [InlineData(FhrpKind.Vrrp, 2, 1, "0000.5e00.0101")]
    [InlineData(FhrpKind.Vrrp, 3, 255, "0000.5e00.01ff")]
    public void For_gives_the_well_known_block(FhrpKind kind, int version, int group, string expected) =>
        Assert.Equal(expected, VirtualMac.ToCiscoNotation(VirtualMac.For(kind, version, group)));

    [Theory]
    [InlineData(FhrpKind.Hsrp, 0, "0005.73a0.0000")]
    [InlineData(FhrpKind.Hsrp, 4095, "0005.73a0.0fff")]
    [InlineData(FhrpKind.Vrrp, 7, "0000.5e00.0207")]
    public void For_IPv6_uses_the_IPv6_block(FhrpKind kind, int group, string expected) =>
        Assert.Equal(expected, VirtualMac.ToCiscoNotation(VirtualMac.For(kind, kind == FhrpKind.Hsrp ? 2 : 3, group, AddressFamily.InterNetworkV6)));

    [Theory]
    [InlineData(FhrpKind.Hsrp, 1, 256, "HSRPv1 group must be 0–255, not 256.")]
    [InlineData(FhrpKind.Hsrp, 2, 4096, "HSRPv2 group must be 0–4095, not 4096.")]
    [InlineData(FhrpKind.Hsrp, 2, -1, "HSRPv2 group must be 0–4095, not -1.")]
    [InlineData(FhrpKind.Hsrp, 3, 1, "HSRP version must be 1 or 2, not 3.")]
    [InlineData(FhrpKind.Vrrp, 2, 0, "VRRP VRID must be 1–255, not 0.")]
    [InlineData(FhrpKind.Vrrp, 2, 256, "VRRP VRID must be 1–255, not 256.")]
    [InlineData(FhrpKind.Vrrp, 1, 5, "VRRP version must be 2 or 3, not 1.")]
    public void Invalid_groups_are_refused_with_the_rule(FhrpKind kind, int version, int group, string message)
    {
        var e = Assert.Throws<ArgumentException>(() => VirtualMac.For(kind, version, group));
        Assert.StartsWith(message, e.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentException>(() => FhrpGroup.Create(kind, version, group));
    }

    [Fact]
    public void Hsrp_for_IPv6_needs_version_2() =>
        Assert.Equal("HSRP for IPv6 requires HSRP version 2.", VirtualMac.Validate(FhrpKind.Hsrp, 1, 1, AddressFamily.InterNetworkV6));

    [Fact]
    public void FhrpGroup_carries_its_mac()
    {
        var group = FhrpGroup.Create(FhrpKind.Hsrp, 2, 300);
        Assert.Equal("00:00:0c:9f:f1:2c", VirtualMac.ToColonNotation(group.VirtualMac));
    }

    [Fact]
    public void Intent_validation_lists_every_broken_rule()
    {
        var intent = TestDevices.Intent() with { Vlan = 0, PrefixLength = 33, Group = 5000, Priority = 300 };
        var errors = intent.Validate();
        Assert.Contains("VLAN must be 1–4094, not 0.", errors);
        Assert.Contains("PrefixLength must be 1–32 for 10.20.0.1, not 33.", errors);
        Assert.Contains("HSRPv2 group must be 0–4095, not 5000.", errors);
        Assert.Contains("Priority must be 0–255, not 300.", errors);
    }
}
