using System.Net;
using System.Runtime.Versioning;
using LispMobility.Fabric.Linux;
using LispMobility.Platform.Netlink;
using LispMobility.Watchers.DataPlane;

namespace LispMobility.IntegrationTests.Lab;

/// <summary>
/// The lab's VM switchover as a hypervisor does a live migration's: the VM's MAC appears on another switch port and the VM
/// announces itself, within a millisecond or two. The VM's NIC (eth0, a bridge) has a port to each site, built once by
/// netns-lab.sh; a move brings the new site's port up and, once both bridges forward on it, the old one down, so the NIC
/// never loses its carrier and the old site sees nothing of the VM after. Everything goes through sockets opened once in
/// the namespaces (netlink in DC1, DC2 and the VM, AF_PACKET on the VM's eth0): no process is started and no device moves
/// between namespaces per move (moving a veth there cost the kernel 15-30 ms alone).
/// </summary>
[SupportedOSPlatform("linux")]
internal sealed class VmSwitchover : IDisposable
{
    /// <summary>The sites the VM has a port to; its port to a site is named after it, the site's end of it <c>vm</c>.</summary>
    private static readonly string[] Sites = ["dc1", "dc2"];
    private readonly Dictionary<string, Site> _sites;
    private readonly NetlinkSocket _vmNetlink;
    private readonly LinkTable _vmLinks;
    private readonly PacketSocket _vmEth0;
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
                sites[name] = new Site(socket, new LinkTable(socket));
            }

            vmNetlink = PacketSocket.InNamespace(ns("vm"), () => new NetlinkSocket(TimeSpan.FromSeconds(5)));
            // Sends only; what it would receive is dropped at a minimal buffer.
            var eth0 = PacketSocket.InNamespace(ns("vm"), () => PacketSocket.Open("eth0", promiscuous: false, TimeSpan.FromMilliseconds(1), 4096));
            var switchover = new VmSwitchover(sites, vmNetlink, eth0);
            // The first read of the NIC (a bridge: a long answer) costs this process milliseconds of first use: here, not in
            // the first move's switchover.
            switchover.WaitReady();
            return switchover;
        }
        catch
        {
            vmNetlink?.Dispose();
            foreach (var site in sites.Values) site.Dispose();
            throw;
        }
    }

    /// <summary>The site whose port of the VM is up: where the VM runs (the lab's inventory, what a hypervisor would report).</summary>
    public string CurrentSite() => Sites.FirstOrDefault(s => _vmLinks.Find(s) is { Up: true })
        ?? throw new InvalidOperationException("the VM's port is up at neither site");

    /// <summary>
    /// The VM's port to <paramref name="to"/> up and running at both ends, then its other port down; false when the VM was at
    /// <paramref name="to"/> already. <paramref name="upTook"/>: until the new port ran; <paramref name="switchTook"/>: until the old one was down.
    /// </summary>
    public bool Move(string to, out TimeSpan upTook, out TimeSpan switchTook)
    {
        var from = to == "dc1" ? "dc2" : "dc1";
        var moved = _vmLinks.Find(from) is { Up: true };
        var watch = System.Diagnostics.Stopwatch.StartNew();
        _vmLinks.SetUp(to);
        // Both ends' carrier acted on (the kernel's linkwatch work): before it the bridges do not forward on the port, and
        // taking the old port down first would leave the VM's NIC without carrier for a moment.
        WaitRunning(_vmLinks, to);
        WaitRunning(_sites[to].Links, "vm");
        upTook = watch.Elapsed;
        if (moved) _vmLinks.SetDown(from);
        switchTook = watch.Elapsed;
        return moved;
    }

    /// <summary>
    /// Waits (up to a second) until the VM's eth0 runs: after a cold move it has just come up, and until the kernel has acted
    /// on its carrier it has no queue to send on, so a GARP would be dropped. A resumed VM finds its NIC ready in the same way.
    /// </summary>
    public void WaitReady() => WaitRunning(_vmLinks, "eth0");

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

    private sealed record Site(NetlinkSocket Socket, LinkTable Links) : IDisposable
    {
        public void Dispose() => Socket.Dispose();
    }
}
