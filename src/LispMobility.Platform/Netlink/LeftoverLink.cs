namespace LispMobility.Platform.Netlink;

/// <summary>
/// An interface an earlier run of the agent created and a crash left behind (the dispose that deletes it never ran): one
/// of the kind the agent makes under that name is deleted before it is made again; one of any other kind is the
/// operator's, and not ours to delete.
/// </summary>
public static class LeftoverLink
{
    /// <summary>
    /// Deletes the interface <paramref name="name"/> if it is of <paramref name="kind"/> (rtnetlink's IFLA_INFO_KIND);
    /// throws <see cref="IOException"/> naming <paramref name="setting"/> if it is of another kind; nothing if there is none.
    /// </summary>
    public static void Remove(NetlinkSocket netlink, string name, string kind, string description, string setting)
    {
        ArgumentNullException.ThrowIfNull(netlink);
        List<(ushort Type, byte[] Payload)> reply;
        try
        {
            reply = netlink.Exchange(new NetlinkMessage(Rtnl.GetLink, Rtnl.FRequest | Rtnl.FAck).Ifinfo(0).Attribute(Rtnl.IflaIfname, name), $"get link {name}");
        }
        catch (NetlinkException e) when (e.Errno == NetlinkSocket.Enodev)
        {
            return;
        }

        string? found = null;
        foreach (var (type, payload) in reply)
        {
            if (type != Rtnl.NewLink || payload.Length < Rtnl.IfinfoLength) continue;
            var attributes = NetlinkAttributes.Parse(payload.AsSpan(Rtnl.IfinfoLength));
            if (attributes.GetValueOrDefault(Rtnl.IflaLinkinfo) is { } info) found = NetlinkAttributes.String(NetlinkAttributes.Parse(info), Rtnl.IflaInfoKind);
        }

        if (found != kind) throw new IOException($"interface {name} exists and is not {description} ({found ?? "no kind"}): choose another {setting}");
        netlink.Exchange(new NetlinkMessage(Rtnl.DelLink, Rtnl.FRequest | Rtnl.FAck).Ifinfo(0).Attribute(Rtnl.IflaIfname, name), $"delete leftover {kind} {name}");
    }
}
