using System.Net;
using System.Net.Sockets;
using LispMobility.Platform.Netlink;

namespace LispMobility.Platform.DataPlane;

/// <summary>Routes a prefix to an EID device by netlink (RTM_NEWROUTE, replacing a route already there).</summary>
internal static class DeviceRoutes
{
    public static void Add(int index, string name, IPAddress prefix, int length, byte routeProtocol)
    {
        ArgumentNullException.ThrowIfNull(prefix);
        var family = prefix.AddressFamily == AddressFamily.InterNetwork ? (byte)2 : (byte)10;
        var message = new NetlinkMessage(Rtnl.NewRoute, Rtnl.FRequest | Rtnl.FAck | Rtnl.FCreate | Rtnl.FReplace)
            .Rtmsg(family, (byte)length, Rtnl.RtTableMain, routeProtocol, Rtnl.RtScopeLink, Rtnl.RtnUnicast)
            .Attribute(Rtnl.RtaDst, prefix.GetAddressBytes())
            .Attribute(Rtnl.RtaOif, (uint)index);
        using var netlink = new NetlinkSocket(TimeSpan.FromSeconds(5));
        netlink.Exchange(message, $"route {prefix}/{length} dev {name}");
    }
}
