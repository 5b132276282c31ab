using System.Net;
using System.Runtime.Versioning;
using LispMobility.Fabric.Linux;
using LispMobility.Platform.Netlink;
using LispMobility.Watchers.DataPlane;
using Microsoft.Win32.SafeHandles;

namespace LispMobility.IntegrationTests.Lab;

/// <summary>
/// The lab's VM switchover as a hypervisor does a live migration's: the VM's port leaves one site's bridge, joins the
/// other's and the VM announces itself, within a millisecond or two. Everything goes through sockets opened once in the
/// namespaces (netlink in DC1, DC2 and the VM, AF_PACKET on the VM's eth0): no process is started per move, since under
/// load each fork+exec of <c>ip</c> or <c>arping</c> cost the outage measurement several milliseconds of the lab's own.
/// </summary>
[SupportedOSPlatform("linux")]
internal sealed class VmSwitchover : IDisposable
{
    private static readonly string[] Sites = ["dc1", "dc2"];
    private readonly Dictionary<string, Site> _sites;
    private readonly NetlinkSocket _vmNetlink;
    private readonly LinkTable _vmLinks;
    private readonly PacketSocket _vmEth0;
    private string? _site;
    private bool _vmWasDown;

    private VmSwitchover(Dictionary<string, Site> sites, NetlinkSocket vmNetlink, PacketSocket vmEth0)
    {
        _sites = sites;
        _vmNetlink = vmNetlink;
        _vmLinks = new LinkTable(vmNetlink);
        _vmEth0 = vmEth0;
    }

    /// <summary>Opens the sockets in the namespaces named by <paramref name="ns"/> (node → namespace) of a lab that is up.</summary>
    public static VmSwitchover Open(Func<string, string> ns)
    {
        var sites = new Dictionary<string, Site>();
        NetlinkSocket? vmNetlink = null;
        try
        {
            foreach (var name in Sites)
            {
                var socket = PacketSocket.InNamespace(ns(name), () => new NetlinkSocket(TimeSpan.FromSeconds(5)));
                var links = new LinkTable(socket);
                var bridge = links.Find("srv") ?? throw new InvalidOperationException($"no bridge srv in {ns(name)}");
                sites[name] = new Site(socket, links, File.OpenHandle(Path.Combine("/var/run/netns", ns(name))), bridge.Index);
            }

            vmNetlink = PacketSocket.InNamespace(ns("vm"), () => new NetlinkSocket(TimeSpan.FromSeconds(5)));
            // Sends only; what it would receive is dropped at a minimal buffer.
            var eth0 = PacketSocket.InNamespace(ns("vm"), () => PacketSocket.Open("eth0", promiscuous: false, TimeSpan.FromMilliseconds(1), 4096));
            return new VmSwitchover(sites, vmNetlink, eth0);
        }
        catch
        {
            vmNetlink?.Dispose();
            foreach (var site in sites.Values) site.Dispose();
            throw;
        }
    }

    /// <summary>The VM's port (veth <c>vm</c>) to <paramref name="to"/>'s bridge, up; false when it was there already (then only up). <paramref name="moveTook"/>: the namespace change alone.</summary>
    public bool Move(string to, out TimeSpan moveTook)
    {
        var from = to == "dc1" ? "dc2" : "dc1";
        var moved = true;
        var watch = System.Diagnostics.Stopwatch.StartNew();
        try
        {
            _sites[from].Links.MoveToNamespace("vm", (int)_sites[to].Namespace.DangerousGetHandle());
        }
        catch (NetlinkException e) when (e.Errno == NetlinkSocket.Enodev)
        {
            moved = false;
        }

        moveTook = watch.Elapsed;

        _sites[to].Links.AttachUp("vm", _sites[to].BridgeIndex);
        _site = to;
        return moved;
    }

    /// <summary>
    /// Waits (up to a second) until both ends of the VM's veth run. Carrier comes back through the kernel's linkwatch work:
    /// until it has run, the bridge port does not forward and the VM's eth0 has no queue to send on, so a GARP would be
    /// dropped. A resumed VM finds its port ready in the same way.
    /// </summary>
    public void WaitReady()
    {
        if (_site is not null) WaitRunning(_sites[_site].Links, "vm");
        WaitRunning(_vmLinks, "eth0");
    }

    private static void WaitRunning(LinkTable links, string name)
    {
        var deadline = Environment.TickCount64 + 1000;
        while (links.Find(name) is not { Running: true } && Environment.TickCount64 < deadline) Thread.Yield();
    }

    /// <summary>The VM's own interface up or down (a cold move).</summary>
    public void SetVmLink(bool up)
    {
        if (up) _vmLinks.SetUp("eth0");
        else _vmLinks.SetDown("eth0");
        _vmWasDown |= !up;
    }

    /// <summary>One gratuitous ARP (request form, as <c>arping -U</c>) for <paramref name="address"/> from the VM.</summary>
    public void Garp(IPAddress address)
    {
        var frame = NeighborFrames.Arp(1, _vmEth0.Mac, address, address);
        try
        {
            _vmEth0.Send(frame);
        }
        catch (InvalidOperationException) when (_vmWasDown)
        {
            // eth0 going down (a cold move) left ENETDOWN pending on the socket: the first send after reports it, and clears it.
            _vmEth0.Send(frame);
        }

        _vmWasDown = false;
    }

    /// <summary>
    /// The VM's kernel sends an unsolicited NA for each IPv6 address when its MAC is set (ndisc_notify, set by netns-lab.sh),
    /// as a guest does on its hypervisor's announce; setting the same MAC again changes nothing else.
    /// </summary>
    public void AnnounceIPv6() => _vmLinks.SetAddress("eth0", _vmEth0.Mac);

    /// <summary>Adds <paramref name="address"/>/32 to the VM's eth0 (replacing it when present).</summary>
    public void AddVmAddress(IPAddress address) => _vmLinks.AddAddress(_vmEth0.InterfaceIndex, address, 32);

    /// <inheritdoc />
    public void Dispose()
    {
        _vmEth0.Dispose();
        _vmNetlink.Dispose();
        foreach (var site in _sites.Values) site.Dispose();
    }

    private sealed record Site(NetlinkSocket Socket, LinkTable Links, SafeFileHandle Namespace, int BridgeIndex) : IDisposable
    {
        public void Dispose()
        {
            Socket.Dispose();
            Namespace.Dispose();
        }
    }
}
