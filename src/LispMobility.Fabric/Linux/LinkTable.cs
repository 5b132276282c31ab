using System.Net;
using System.Net.NetworkInformation;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using LispMobility.Platform.Netlink;

namespace LispMobility.Fabric.Linux;

/// <summary>A link as RTM_GETLINK reports it; <c>Running</c> is IFF_RUNNING: up, with carrier, and the kernel has acted on it.</summary>
internal sealed record LinkState(int Index, string Name, bool Up, PhysicalAddress Address, int? ParentIndex, string? Kind, bool Running);

/// <summary>An interface address as RTM_GETADDR reports it.</summary>
internal sealed record AddressState(IPAddress Address, int PrefixLength);

/// <summary>The rtnetlink operations the Linux gateway (and the system test's lab) needs: links and addresses, read and written.</summary>
internal sealed class LinkTable(NetlinkSocket socket)
{
    public LinkState? Find(string name)
    {
        var request = new NetlinkMessage(Rtnl.GetLink, Rtnl.FRequest | Rtnl.FAck).Ifinfo(0).Attribute(Rtnl.IflaIfname, name);
        try
        {
            var answer = socket.Exchange(request, $"RTM_GETLINK {name}").FirstOrDefault(a => a.Type == Rtnl.NewLink);
            return answer.Payload is null ? null : ParseLink(answer.Payload);
        }
        catch (NetlinkException e) when (e.Errno == NetlinkSocket.Enodev)
        {
            return null;
        }
    }

    public IReadOnlyList<AddressState> Addresses(int index, AddressFamily family)
    {
        var af = family == AddressFamily.InterNetworkV6 ? (byte)10 : (byte)2;
        var request = new NetlinkMessage(Rtnl.GetAddr, Rtnl.FRequest | Rtnl.FDump).Ifaddr(af, 0, 0);
        var result = new List<AddressState>();
        foreach (var (type, payload) in socket.Exchange(request, "RTM_GETADDR dump"))
        {
            if (type != Rtnl.NewAddr || payload.Length < Rtnl.IfaddrLength) continue;
            // The kernel may ignore the index filter of a dump; filter here.
            if (payload[0] != af || MemoryMarshal.Read<int>(payload.AsSpan(4)) != index) continue;
            var attributes = NetlinkAttributes.Parse(payload.AsSpan(Rtnl.IfaddrLength));
            var bytes = attributes.GetValueOrDefault(Rtnl.IfaLocal) ?? attributes.GetValueOrDefault(Rtnl.IfaAddress);
            if (bytes is { Length: 4 or 16 }) result.Add(new AddressState(new IPAddress(bytes), payload[1]));
        }
        return result;
    }

    public void CreateMacvlan(string name, int parentIndex, PhysicalAddress mac)
    {
        var request = new NetlinkMessage(Rtnl.NewLink, Rtnl.FRequest | Rtnl.FAck | Rtnl.FCreate | Rtnl.FExcl)
            .Ifinfo(0)
            .Attribute(Rtnl.IflaIfname, name)
            .Attribute(Rtnl.IflaLink, (uint)parentIndex)
            .Attribute(Rtnl.IflaAddress, mac.GetAddressBytes());
        var linkInfo = request.BeginNested(Rtnl.IflaLinkinfo);
        request.Attribute(Rtnl.IflaInfoKind, "macvlan");
        var data = request.BeginNested(Rtnl.IflaInfoData);
        request.Attribute(Rtnl.IflaMacvlanMode, Rtnl.MacvlanModeBridge);
        request.EndNested(data).EndNested(linkInfo);
        socket.Exchange(request, $"RTM_NEWLINK create macvlan {name}");
    }

    public void SetAddress(string name, PhysicalAddress mac) =>
        socket.Exchange(new NetlinkMessage(Rtnl.NewLink, Rtnl.FRequest | Rtnl.FAck).Ifinfo(0)
            .Attribute(Rtnl.IflaIfname, name).Attribute(Rtnl.IflaAddress, mac.GetAddressBytes()), $"RTM_NEWLINK set address of {name}");

    public void SetUp(string name) =>
        socket.Exchange(new NetlinkMessage(Rtnl.NewLink, Rtnl.FRequest | Rtnl.FAck).Ifinfo(0, Rtnl.IffUp, Rtnl.IffUp)
            .Attribute(Rtnl.IflaIfname, name), $"RTM_NEWLINK set {name} up");

    public void SetDown(string name) =>
        socket.Exchange(new NetlinkMessage(Rtnl.NewLink, Rtnl.FRequest | Rtnl.FAck).Ifinfo(0, 0, Rtnl.IffUp)
            .Attribute(Rtnl.IflaIfname, name), $"RTM_NEWLINK set {name} down");

    public void Delete(string name) =>
        socket.Exchange(new NetlinkMessage(Rtnl.DelLink, Rtnl.FRequest | Rtnl.FAck).Ifinfo(0)
            .Attribute(Rtnl.IflaIfname, name), $"RTM_DELLINK {name}");

    public void AddAddress(int index, IPAddress address, int prefixLength)
    {
        var family = address.AddressFamily == AddressFamily.InterNetworkV6 ? (byte)10 : (byte)2;
        var bytes = address.GetAddressBytes();
        var request = new NetlinkMessage(Rtnl.NewAddr, Rtnl.FRequest | Rtnl.FAck | Rtnl.FCreate | Rtnl.FReplace)
            .Ifaddr(family, (byte)prefixLength, index);
        if (family == 2) request.Attribute(Rtnl.IfaLocal, bytes);
        request.Attribute(Rtnl.IfaAddress, bytes);
        socket.Exchange(request, $"RTM_NEWADDR {address}/{prefixLength}");
    }

    private static LinkState ParseLink(byte[] payload)
    {
        if (payload.Length < Rtnl.IfinfoLength) throw new NetlinkException(71, "short RTM_NEWLINK answer", "RTM_GETLINK"); // EPROTO
        var index = MemoryMarshal.Read<int>(payload.AsSpan(4));
        var flags = MemoryMarshal.Read<uint>(payload.AsSpan(8));
        var attributes = NetlinkAttributes.Parse(payload.AsSpan(Rtnl.IfinfoLength));
        var kind = attributes.TryGetValue(Rtnl.IflaLinkinfo, out var info)
            ? NetlinkAttributes.String(NetlinkAttributes.Parse(info), Rtnl.IflaInfoKind)
            : null;
        return new LinkState(
            index,
            NetlinkAttributes.String(attributes, Rtnl.IflaIfname) ?? "",
            (flags & Rtnl.IffUp) != 0,
            new PhysicalAddress(attributes.GetValueOrDefault(Rtnl.IflaAddress) ?? []),
            (int?)NetlinkAttributes.UInt32(attributes, Rtnl.IflaLink),
            kind,
            (flags & Rtnl.IffRunning) != 0);
    }
}
