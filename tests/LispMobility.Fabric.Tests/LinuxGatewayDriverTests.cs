using System.Net;
using LispMobility.Fabric.Linux;

using LispMobility.TestSupport.Netns;

namespace LispMobility.Fabric.Tests;

/// <summary>The Linux driver for real: rtnetlink and /proc/sys inside a namespace the test creates, checked with <c>ip</c>.</summary>
public sealed class LinuxGatewayDriverTests : IDisposable
{
    private readonly NetworkNamespace _ns = NetworkNamespace.Create("lmfab");
    private readonly LinuxGatewayDriver _driver = new(new LinuxGatewayOptions { Device = "gw-dc1" });
    private static readonly GatewayIntent Intent = TestDevices.Intent(interfaceName: "veth0");

    public LinuxGatewayDriverTests()
    {
        _ns.Ip("link add veth0 type veth peer name veth1");
        _ns.Ip("link set veth0 up");
    }

    private GatewayPlan Plan(GatewayIntent? intent = null) => _ns.Enter(() => _driver.PlanAsync(intent ?? Intent, default).GetAwaiter().GetResult());

    private GatewayVerification Verify() => _ns.Enter(() => _driver.VerifyAsync(Intent, default).GetAwaiter().GetResult());

    private void Apply(GatewayPlan plan) => _ns.Enter(() =>
    {
        _driver.ApplyAsync(plan, default).GetAwaiter().GetResult();
        return 0;
    });

    [Fact]
    public void Plan_lists_the_exact_netlink_messages_and_sysctls()
    {
        var plan = Plan();

        Assert.Equal(("linux", "gw-dc1"), (plan.Driver, plan.Device));
        Assert.Equal(
        [
            ("netlink RTM_NEWLINK", "flags=request,ack,create,excl ifname=lmgw120 link=veth0 address=00:00:0c:9f:f0:78 linkinfo.kind=macvlan linkinfo.data.mode=bridge"),
            ("sysctl /proc/sys/net/ipv4/conf/lmgw120/proxy_arp", "1"),
            ("sysctl /proc/sys/net/ipv4/neigh/lmgw120/proxy_delay", "0"),
            ("netlink RTM_NEWLINK", "flags=request,ack ifname=lmgw120 ifi_flags=up ifi_change=up"),
            ("netlink RTM_NEWADDR", "flags=request,ack,create,replace ifname=lmgw120 address=10.20.0.1/24"),
        ], plan.Changes.Select(c => (c.Target, c.Payload)));
        Assert.DoesNotContain("lmgw120", _ns.Ip("link show"), StringComparison.Ordinal); // planning changes nothing
    }

    [Fact]
    public void Apply_builds_the_gateway_in_the_namespace_only_and_is_idempotent()
    {
        Apply(Plan());

        var link = _ns.Ip("-d link show lmgw120");
        Assert.Contains("lmgw120@veth0", link, StringComparison.Ordinal);
        Assert.Contains("link/ether 00:00:0c:9f:f0:78", link, StringComparison.Ordinal);
        Assert.Contains("macvlan mode bridge", link, StringComparison.Ordinal);
        Assert.Contains(",UP", link, StringComparison.Ordinal);
        Assert.Contains("inet 10.20.0.1/24", _ns.Ip("addr show dev lmgw120"), StringComparison.Ordinal);
        Assert.Equal("1", _ns.Exec("cat /proc/sys/net/ipv4/conf/lmgw120/proxy_arp").Trim());
        Assert.Equal("0", _ns.Exec("cat /proc/sys/net/ipv4/neigh/lmgw120/proxy_delay").Trim());
        Assert.DoesNotContain("lmgw120", NetworkNamespace.Run("ip", "link show"), StringComparison.Ordinal);

        var verification = Verify();
        Assert.True(verification.Converged, string.Join("; ", verification.Differences));
        Assert.True(Plan().IsEmpty);
    }

    [Fact]
    public void Drift_made_behind_the_drivers_back_is_found_and_repaired()
    {
        Apply(Plan());
        _ns.Ip("link set lmgw120 address 02:00:00:00:00:01");
        _ns.Exec("sysctl -qw net.ipv4.conf.lmgw120.proxy_arp=0");
        _ns.Ip("addr flush dev lmgw120");

        var verification = Verify();

        Assert.Equal(
        [
            "lmgw120 MAC is 02:00:00:00:00:01, want 00:00:0c:9f:f0:78",
            "/proc/sys/net/ipv4/conf/lmgw120/proxy_arp is 0, want 1",
            "lmgw120 addresses are none, want 10.20.0.1/24",
        ], verification.Differences);
        Apply(Plan());
        Assert.True(Verify().Converged);
        Assert.Contains("link/ether 00:00:0c:9f:f0:78", _ns.Ip("link show lmgw120"), StringComparison.Ordinal);
    }

    [Fact]
    public void A_link_of_the_wrong_kind_is_replaced()
    {
        _ns.Ip("link add lmgw120 type veth peer name stray0");

        var plan = Plan();

        Assert.Equal(("netlink RTM_DELLINK", "flags=request,ack ifname=lmgw120"), (plan.Changes[0].Target, plan.Changes[0].Payload));
        Apply(plan);
        Assert.Contains("macvlan", _ns.Ip("-d link show lmgw120"), StringComparison.Ordinal);
        Assert.True(Verify().Converged);
    }

    [Fact]
    public void A_missing_server_interface_is_named()
    {
        var e = Assert.Throws<GatewayException>(() => Plan(Intent with { InterfaceName = "eth9" }));

        Assert.Equal("interface eth9 does not exist in this network namespace", e.DeviceMessage);
    }

    [Fact]
    public void A_kernel_refusal_carries_errno_text()
    {
        Apply(Plan());
        var stale = new GatewayPlan("linux", "gw-dc1",
            [new GatewayChange("netlink RTM_NEWLINK", "create again",
                "flags=request,ack,create,excl ifname=lmgw120 link=veth0 address=00:00:0c:9f:f0:78 linkinfo.kind=macvlan linkinfo.data.mode=bridge")]);

        var e = Assert.Throws<GatewayException>(() => Apply(stale));

        Assert.StartsWith("RTM_NEWLINK create macvlan lmgw120: File exists (errno 17)", e.DeviceMessage, StringComparison.Ordinal);
    }

    [Fact]
    public void Proxy_arp_off_is_written_as_zero_and_no_proxy_delay_is_touched()
    {
        var plan = Plan(Intent with { ProxyArp = false, VirtualIp = IPAddress.Parse("10.30.0.1") });

        Assert.DoesNotContain(plan.Changes, c => c.Target.Contains("proxy_delay", StringComparison.Ordinal));
        Assert.DoesNotContain(plan.Changes, c => c.Target.Contains("proxy_arp", StringComparison.Ordinal)); // default is already 0
    }

    public void Dispose() => _ns.Dispose();
}

/// <summary>An IPv6 gateway: HSRP IPv6 MAC block, address only (proxy-ARP is IPv4), in its own namespace.</summary>
public sealed class LinuxGatewayDriverIpv6Tests : IDisposable
{
    private readonly NetworkNamespace _ns = NetworkNamespace.Create("lmfab");

    [Fact]
    public void An_IPv6_virtual_ip_gets_the_hsrp_ipv6_mac_and_no_arp_sysctls()
    {
        _ns.Ip("link add veth0 type veth peer name veth1");
        var driver = new LinuxGatewayDriver(new LinuxGatewayOptions { Device = "gw-dc1", MacvlanPrefix = "gw6-" });
        var intent = new GatewayIntent(300, "veth0", IPAddress.Parse("fd00:300::1"), 64, FhrpKind.Hsrp, 2, 300,
            VirtualMac.For(FhrpKind.Hsrp, 2, 300, System.Net.Sockets.AddressFamily.InterNetworkV6), ProxyArp: true);

        var plan = _ns.Enter(() => driver.PlanAsync(intent, default).GetAwaiter().GetResult());
        Assert.DoesNotContain(plan.Changes, c => c.Target.StartsWith("sysctl", StringComparison.Ordinal));
        _ns.Enter(() => { driver.ApplyAsync(plan, default).GetAwaiter().GetResult(); return 0; });

        Assert.Contains("link/ether 00:05:73:a0:01:2c", _ns.Ip("link show gw6-300"), StringComparison.Ordinal);
        Assert.Contains("inet6 fd00:300::1/64", _ns.Ip("addr show dev gw6-300"), StringComparison.Ordinal);
        Assert.True(_ns.Enter(() => driver.VerifyAsync(intent, default).GetAwaiter().GetResult()).Converged);
    }

    public void Dispose() => _ns.Dispose();
}
