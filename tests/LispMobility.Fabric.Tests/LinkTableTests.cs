using LispMobility.Fabric.Linux;
using LispMobility.Platform.Netlink;
using LispMobility.TestSupport.Netns;

namespace LispMobility.Fabric.Tests;

/// <summary>The link operations the system test's lab moves its VM with, against the kernel in two namespaces, checked with <c>ip</c>.</summary>
public sealed class LinkTableTests : IDisposable
{
    private readonly NetworkNamespace _old = NetworkNamespace.Create("lmlto");
    private readonly NetworkNamespace _new = NetworkNamespace.Create("lmltn");
    private readonly NetlinkSocket _oldSocket;
    private readonly NetlinkSocket _newSocket;

    public LinkTableTests()
    {
        _old.Ip("link add port type veth peer name guest");
        _old.Ip("link set guest up");
        _new.Ip("link add br0 type bridge");
        _new.Ip("link set br0 up");
        _oldSocket = _old.Enter(() => new NetlinkSocket(TimeSpan.FromSeconds(5)));
        _newSocket = _new.Enter(() => new NetlinkSocket(TimeSpan.FromSeconds(5)));
    }

    [Fact]
    public void A_port_moves_to_another_namespace_joins_its_bridge_up_and_runs_once_the_kernel_has_seen_its_carrier()
    {
        var oldLinks = new LinkTable(_oldSocket);
        var newLinks = new LinkTable(_newSocket);
        using (var target = File.OpenHandle($"/var/run/netns/{_new.Name}"))
        {
            oldLinks.MoveToNamespace("port", (int)target.DangerousGetHandle());
        }

        Assert.Null(oldLinks.Find("port"));
        Assert.False(newLinks.Find("port")!.Up); // a moved link arrives down

        newLinks.AttachUp("port", newLinks.Find("br0")!.Index);

        var link = _new.Ip("link show dev port");
        Assert.Contains("master br0", link, StringComparison.Ordinal);
        Assert.Contains(",UP", link, StringComparison.Ordinal);
        var deadline = Environment.TickCount64 + 10_000; // linkwatch runs soon after; 10 s only bounds a broken kernel
        while (newLinks.Find("port") is not { Running: true } && Environment.TickCount64 < deadline) Thread.Sleep(1);
        Assert.True(newLinks.Find("port")!.Running);

        newLinks.SetDown("port");
        Assert.False(newLinks.Find("port")!.Up);
        Assert.False(newLinks.Find("port")!.Running);
    }

    [Fact]
    public void Moving_a_link_that_is_not_there_is_enodev()
    {
        using var target = File.OpenHandle($"/var/run/netns/{_new.Name}");
        var error = Assert.Throws<NetlinkException>(() => new LinkTable(_oldSocket).MoveToNamespace("nothere", (int)target.DangerousGetHandle()));
        Assert.Equal(NetlinkSocket.Enodev, error.Errno);
    }

    public void Dispose()
    {
        _oldSocket.Dispose();
        _newSocket.Dispose();
        _old.Dispose();
        _new.Dispose();
    }
}
