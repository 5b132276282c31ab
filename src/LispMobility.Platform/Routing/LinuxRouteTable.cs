using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Runtime.Versioning;
using LispMobility.Platform.Netlink;

namespace LispMobility.Platform.Routing;

/// <summary>
/// Host routes in Linux's main table over rtnetlink (no `ip` process): /32 and /128 routes to the VM-facing
/// interface and blackhole routes, all with our own route protocol number so we can find them again.
/// Works in the network namespace of the calling thread.
/// </summary>
[SupportedOSPlatform("linux")]
public sealed partial class LinuxRouteTable(byte routeProtocol = LinuxRouteTable.DefaultProtocol, TimeSpan? timeout = null) : IRouteTable
{
    /// <summary>Our rtm_protocol (unassigned in /etc/iproute2/rt_protos; "proto 222" in `ip route`).</summary>
    public const byte DefaultProtocol = 222;

    private const int Enoent = 2, Esrch = 3;
    private readonly TimeSpan _timeout = timeout ?? TimeSpan.FromSeconds(5);

    /// <summary>The protocol number our routes carry.</summary>
    public byte RouteProtocol => routeProtocol;

    // Acknowledgements of one batch must fit the socket's receive buffer (an error echoes the request, ~100 bytes each).
    private const int BatchSize = 256;

    /// <inheritdoc />
    public void Set(HostRoute route)
    {
        var (message, what) = SetRequest(route);
        Exchange(message, what);
    }

    /// <inheritdoc />
    /// <remarks>One netlink datagram per <see cref="BatchSize"/> changes, on one socket: a failover's thousands of routes cost a few system calls.</remarks>
    public RouteTableException?[] Apply(IReadOnlyList<RouteChange> batch)
    {
        ArgumentNullException.ThrowIfNull(batch);
        var failures = new RouteTableException?[batch.Count];
        var requests = new List<(NetlinkMessage, string)>(Math.Min(batch.Count, BatchSize));
        var indexes = new List<int>(requests.Capacity);
        using var socket = new NetlinkSocket(_timeout);
        for (var start = 0; start < batch.Count; start += BatchSize)
        {
            requests.Clear();
            indexes.Clear();
            for (var i = start; i < Math.Min(start + BatchSize, batch.Count); i++)
            {
                try
                {
                    var change = batch[i];
                    requests.Add(change.Kind == RouteChangeKind.Remove ? RemoveRequest(change.Address)
                        : SetRequest(new HostRoute(change.Address, change.Kind == RouteChangeKind.Blackhole ? HostRouteKind.Blackhole : HostRouteKind.Local, change.Interface)));
                    indexes.Add(i);
                }
                catch (RouteTableException e)
                {
                    failures[i] = e;
                }
            }

            NetlinkException?[] answers;
            try
            {
                answers = socket.ExchangeBatch(requests);
            }
            catch (NetlinkException e)
            {
                // The batch as a whole got no answer: every change of it failed the same way (and may be tried again).
                foreach (var i in indexes) failures[i] = new RouteTableException(e.Message, e, e.Transient);
                continue;
            }

            for (var k = 0; k < answers.Length; k++)
            {
                if (answers[k] is not { } error) continue;
                // Removing what is not there is not a failure: removal is idempotent.
                if (batch[indexes[k]].Kind == RouteChangeKind.Remove && error.Errno is Enoent or Esrch) continue;
                failures[indexes[k]] = new RouteTableException(error.Message, error, error.Transient);
            }
        }

        return failures;
    }

    private (NetlinkMessage, string) SetRequest(HostRoute route)
    {
        ArgumentNullException.ThrowIfNull(route);
        var (family, length, bytes) = Destination(route.Address);
        var local = route.Kind == HostRouteKind.Local;
        var message = new NetlinkMessage(Rtnl.NewRoute, Rtnl.FRequest | Rtnl.FAck | Rtnl.FCreate | Rtnl.FReplace)
            .Rtmsg(family, length, Rtnl.RtTableMain, routeProtocol, local ? Rtnl.RtScopeLink : Rtnl.RtScopeUniverse, local ? Rtnl.RtnUnicast : Rtnl.RtnBlackhole)
            .Attribute(Rtnl.RtaDst, bytes);
        if (local)
        {
            if (string.IsNullOrEmpty(route.Interface)) throw new RouteTableException($"a local route for {route.Address} needs an interface");
            var index = (uint)InterfaceIndex.Of(route.Interface);
            if (index == 0) throw new RouteTableException($"interface '{route.Interface}' does not exist (route for {route.Address})");
            message.Attribute(Rtnl.RtaOif, index);
        }

        return (message, $"add {(local ? "route" : "blackhole")} {route.Address}/{length}{(local ? " dev " + route.Interface : "")}");
    }

    private (NetlinkMessage, string) RemoveRequest(IPAddress address)
    {
        ArgumentNullException.ThrowIfNull(address);
        var (family, length, bytes) = Destination(address);
        var message = new NetlinkMessage(Rtnl.DelRoute, Rtnl.FRequest | Rtnl.FAck)
            .Rtmsg(family, length, Rtnl.RtTableMain, routeProtocol, 255 /* RT_SCOPE_NOWHERE: any scope */, 0)
            .Attribute(Rtnl.RtaDst, bytes);
        return (message, $"delete route {address}/{length}");
    }

    /// <inheritdoc />
    public void Remove(IPAddress address)
    {
        var (message, what) = RemoveRequest(address);
        try
        {
            Exchange(message, what);
        }
        catch (RouteTableException e) when (e.InnerException is NetlinkException { Errno: Enoent or Esrch })
        {
            // Not there: removing is idempotent.
        }
    }

    /// <inheritdoc />
    public IReadOnlyList<HostRoute> List()
    {
        var routes = new List<HostRoute>();
        foreach (var family in new[] { (byte)AddressFamily.InterNetwork, (byte)10 /* AF_INET6 */ })
        {
            var dump = Exchange(new NetlinkMessage(Rtnl.GetRoute, Rtnl.FRequest | Rtnl.FDump).Rtmsg(family, 0, 0, 0, 0, 0), "list routes");
            foreach (var (type, payload) in dump)
            {
                if (type != Rtnl.NewRoute || payload.Length < Rtnl.RtmsgLength) continue;
                if (payload[5] != routeProtocol || payload[4] != Rtnl.RtTableMain) continue;
                var attributes = NetlinkAttributes.Parse(payload.AsSpan(Rtnl.RtmsgLength));
                if (!attributes.TryGetValue(Rtnl.RtaDst, out var dst) || dst.Length is not (4 or 16)) continue;
                var kind = payload[7] == Rtnl.RtnBlackhole ? HostRouteKind.Blackhole : HostRouteKind.Local;
                var oif = NetlinkAttributes.UInt32(attributes, Rtnl.RtaOif);
                routes.Add(new HostRoute(new IPAddress(dst), kind, oif is { } i ? InterfaceName(i) : null));
            }
        }

        return routes;
    }

    /// <inheritdoc />
    public IReadOnlyList<HostRoute> RemoveAll()
    {
        var routes = List();
        foreach (var r in routes) Remove(r.Address);
        return routes;
    }

    private static (byte Family, byte Length, byte[] Bytes) Destination(IPAddress address) =>
        address.AddressFamily == AddressFamily.InterNetwork ? ((byte)2, (byte)32, address.GetAddressBytes()) : ((byte)10, (byte)128, address.GetAddressBytes());

    private List<(ushort Type, byte[] Payload)> Exchange(NetlinkMessage message, string what)
    {
        try
        {
            using var socket = new NetlinkSocket(_timeout);
            return socket.Exchange(message, what);
        }
        catch (NetlinkException e)
        {
            throw new RouteTableException(e.Message, e, e.Transient);
        }
    }

    private static string? InterfaceName(uint index)
    {
        Span<byte> name = stackalloc byte[16];
        unsafe
        {
            fixed (byte* p = name)
            {
                if (if_indextoname(index, p) == IntPtr.Zero) return null;
            }
        }

        var end = name.IndexOf((byte)0);
        return System.Text.Encoding.ASCII.GetString(end < 0 ? name : name[..end]);
    }

    [LibraryImport("libc")]
    private static unsafe partial IntPtr if_indextoname(uint index, byte* name);
}
