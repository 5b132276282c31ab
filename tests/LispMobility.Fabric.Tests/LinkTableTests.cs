using LispMobility.Fabric.Linux;
using LispMobility.Platform.Netlink;
using LispMobility.TestSupport.Netns;

namespace LispMobility.Fabric.Tests;

/// <summary>
/// The link operations the system test's lab switches its VM's port with (a veth between the VM's bridge and a site's),
/// against the kernel in two namespaces, checked with <c>ip</c>.
/// </summary>
public sealed class LinkTableTests : IDisposable
{
    private readonly NetworkNamespace _vm = NetworkNamespace.Create("lmltv");
    private readonly NetworkNamespace _site = NetworkNamespace.Create("lmlts");
    private readonly NetlinkSocket _vmSocket;
    private readonly NetlinkSocket _siteSocket;

    public LinkTableTests()
    {
        _vm.Ip("link add nic type bridge");
        _vm.Ip($"link add port index 31 type veth peer name vm index 41 netns {_site.Name}");
        _vm.Ip("link set dev port master nic");
        _vm.Ip("link set nic up");
        _site.Ip("link add srv type bridge");
        _site.Ip("link set srv up");
        _site.Ip("link set dev vm master srv up");
        _vmSocket = _vm.Enter(() => new NetlinkSocket(TimeSpan.FromSeconds(5)));
        _siteSocket = _site.Enter(() => new NetlinkSocket(TimeSpan.FromSeconds(5)));
    }

    [Fact]
    public void A_port_set_up_runs_at_both_ends_once_the_kernel_has_seen_its_carrier_and_set_down_stops_both()
    {
        var vmLinks = new LinkTable(_vmSocket);
        var siteLinks = new LinkTable(_siteSocket);
        Assert.False(vmLinks.Find("port")!.Up);
        Assert.False(siteLinks.Find("vm")!.Running); // up, but its peer is down: no carrier

        vmLinks.SetUp("port");

        Assert.Contains(",UP", _vm.Ip("link show dev port"), StringComparison.Ordinal);
        var deadline = Environment.TickCount64 + 10_000; // linkwatch runs soon after; 10 s only bounds a broken kernel
        while (!(vmLinks.Find("port") is { Running: true } && siteLinks.Find("vm") is { Running: true } && vmLinks.Find("nic") is { Running: true })
            && Environment.TickCount64 < deadline) Thread.Sleep(1);
        Assert.True(vmLinks.Find("port")!.Running);
        Assert.True(siteLinks.Find("vm")!.Running);
        Assert.True(vmLinks.Find("nic")!.Running); // the bridge has carrier once a port forwards

        vmLinks.SetDown("port");
        Assert.False(vmLinks.Find("port")!.Up);
        Assert.False(vmLinks.Find("port")!.Running);
        deadline = Environment.TickCount64 + 10_000;
        while (siteLinks.Find("vm") is { Running: true } && Environment.TickCount64 < deadline) Thread.Sleep(1);
        Assert.False(siteLinks.Find("vm")!.Running);
    }

    [Fact]
    public void Setting_up_a_link_that_is_not_there_is_enodev()
    {
        var error = Assert.Throws<NetlinkException>(() => new LinkTable(_vmSocket).SetUp("nothere"));
        Assert.Equal(NetlinkSocket.Enodev, error.Errno);
    }

    public void Dispose()
    {
        _vmSocket.Dispose();
        _siteSocket.Dispose();
        _vm.Dispose();
        _site.Dispose();
    }
}
