using System.Net;
using System.Runtime.Versioning;
using System.Text;
using LispMobility.Platform.Netlink;

namespace LispMobility.Platform.DataPlane;

/// <summary>
/// A veth pair as the EID device: the remote EID space is routed to its near end (<see cref="Name"/>, no ARP), and the ITR
/// reads what arrives at the far end (<see cref="PeerName"/>) through a TPACKET_V3 ring of shared memory, a block of
/// packets per wake-up and no syscall per packet (<see cref="PacketRingReader"/>); the ETR's packets enter the stack by
/// being sent out of the far end as Ethernet frames (<see cref="FrameWriter"/>). Created in the calling thread's network
/// namespace; a pair left by an earlier run under the same name is replaced, and the pair is deleted on dispose.
/// With offloads, TCP super-packets reach the ring whole with a virtio-net header, as with a TUN; the near end keeps TCP
/// segmentation offload only (the ITR cuts TCP), every other kind of segmentation is turned off, so the kernel cuts those itself.
/// </summary>
[SupportedOSPlatform("linux")]
public sealed class VethDevice : IEidDevice
{
    /// <summary>The suffix of the far end's name.</summary>
    public const string PeerSuffix = "p";

    private const ushort IflaMtu = 4, IflaNumTxQueues = 31, IflaNumRxQueues = 32, VethInfoPeer = 1;
    private const uint IffNoArp = 0x80;
    private const int Enodev = 19;
    private readonly byte[] _nearMac = [0x02, 0x4c, 0x49, 0x53, 0x50, 0x00];
    private readonly byte[] _farMac = [0x02, 0x4c, 0x49, 0x53, 0x50, 0x01];
    private readonly FrameWriter _writer;
    private readonly Lock _writeLock = new();
    // Opened in the namespace the pair was created in, so that a dispose from any thread deletes that pair.
    private readonly NetlinkSocket _netlink;
    private int _disposed;

    /// <summary>
    /// Creates the pair <paramref name="name"/> / <paramref name="name"/> + <see cref="PeerSuffix"/> (replacing a veth of that
    /// name), MTU <paramref name="mtu"/> on both ends, up; <paramref name="queues"/> rings read by as many loops.
    /// </summary>
    public VethDevice(string name, int mtu, bool offloads = true, int queues = 1)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        ArgumentOutOfRangeException.ThrowIfLessThan(queues, 1);
        if (Encoding.ASCII.GetByteCount(name) > 15 - PeerSuffix.Length)
            throw new ArgumentException($"interface name '{name}' is longer than {15 - PeerSuffix.Length} bytes (its veth peer adds '{PeerSuffix}')", nameof(name));
        Name = name;
        PeerName = name + PeerSuffix;
        Queues = queues;
        HasVnetHeader = offloads;
        _netlink = new NetlinkSocket(TimeSpan.FromSeconds(5));
        var netlink = _netlink;
        try
        {
            LeftoverLink.Remove(netlink, name, "veth", "a veth", "Xtr:DataPlane:TunName");
            var create = new NetlinkMessage(Rtnl.NewLink, Rtnl.FRequest | Rtnl.FAck | Rtnl.FCreate | Rtnl.FExcl).Ifinfo(0)
                .Attribute(Rtnl.IflaIfname, name).Attribute(Rtnl.IflaAddress, _nearMac).Attribute(IflaMtu, (uint)mtu)
                .Attribute(IflaNumTxQueues, (uint)queues).Attribute(IflaNumRxQueues, (uint)queues);
            var info = create.BeginNested(Rtnl.IflaLinkinfo);
            create.Attribute(Rtnl.IflaInfoKind, "veth");
            var data = create.BeginNested(Rtnl.IflaInfoData);
            var peer = create.BeginNested(VethInfoPeer);
            create.Ifinfo(0).Attribute(Rtnl.IflaIfname, PeerName).Attribute(Rtnl.IflaAddress, _farMac).Attribute(IflaMtu, (uint)mtu)
                .Attribute(IflaNumTxQueues, (uint)queues).Attribute(IflaNumRxQueues, (uint)queues);
            create.EndNested(peer).EndNested(data).EndNested(info);
            netlink.Exchange(create, $"create veth {name}/{PeerName}");
        }
        catch
        {
            netlink.Dispose();
            throw;
        }

        try
        {
            Index = InterfaceIndex.Of(name);
            PeerIndex = InterfaceIndex.Of(PeerName);
            if (Index == 0 || PeerIndex == 0) throw new IOException($"veth {name}/{PeerName} was created but cannot be found");
            OffloadErrno = EthtoolFeatures.Restrict(name, keepTcp: offloads);
            // Linux 6.2 and later take UDP segmentation in a written virtio-net header, as a TUN does.
            TakesUdpSuperPackets = offloads && Environment.OSVersion.Version >= new Version(6, 2);
            netlink.Exchange(new NetlinkMessage(Rtnl.NewLink, Rtnl.FRequest | Rtnl.FAck).Ifinfo(PeerIndex, Rtnl.IffUp, Rtnl.IffUp), $"set {PeerName} up");
            netlink.Exchange(new NetlinkMessage(Rtnl.NewLink, Rtnl.FRequest | Rtnl.FAck).Ifinfo(Index, Rtnl.IffUp | IffNoArp, Rtnl.IffUp | IffNoArp),
                $"set {name} noarp up");

            _writer = new FrameWriter(this, 1, 65536);
        }
        catch
        {
            Delete();
            netlink.Dispose();
            throw;
        }
    }

    /// <inheritdoc />
    public string Name { get; }

    /// <summary>The far end's name, where the ITR reads and the ETR writes.</summary>
    public string PeerName { get; }

    /// <summary>The near end's interface index.</summary>
    public int Index { get; }

    /// <summary>The far end's interface index.</summary>
    public int PeerIndex { get; }

    /// <inheritdoc />
    public bool HasVnetHeader { get; }

    /// <summary>Why the near end's offload features could not be set (an errno of SIOCETHTOOL), or 0.</summary>
    public int OffloadErrno { get; }

    /// <inheritdoc />
    public bool TakesUdpSuperPackets { get; }

    /// <inheritdoc />
    public int Queues { get; }

    /// <summary>The near end's MAC address: the destination of the frames the ETR writes.</summary>
    internal ReadOnlySpan<byte> NearMac => _nearMac;

    /// <summary>The far end's MAC address: their source.</summary>
    internal ReadOnlySpan<byte> FarMac => _farMac;

    /// <inheritdoc />
    public void AddRoute(IPAddress prefix, int length, byte routeProtocol) => DeviceRoutes.Add(Index, Name, prefix, length, routeProtocol);

    /// <inheritdoc />
    public bool Write(ReadOnlySpan<byte> packet)
    {
        lock (_writeLock)
        {
            var before = _writer.Dropped;
            _writer.Queue(packet);
            _writer.Flush();
            return _writer.Dropped == before;
        }
    }

    /// <inheritdoc />
    public IPacketReader OpenReader(int queue, int capacity, int headroom, int maxPacket, bool batchedSyscalls)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(queue);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(queue, Queues);
        return new PacketRingReader(this, capacity, headroom);
    }

    /// <inheritdoc />
    public IPacketWriter OpenWriter(int capacity, int maxPacket, bool batchedSyscalls) => new FrameWriter(this, capacity, maxPacket);

    /// <summary>Deletes the pair (the kernel removes its routes with it).</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        _writer.Dispose();
        Delete();
        _netlink.Dispose();
    }

    private void Delete()
    {
        try
        {
            _netlink.Exchange(new NetlinkMessage(Rtnl.DelLink, Rtnl.FRequest | Rtnl.FAck).Ifinfo(0).Attribute(Rtnl.IflaIfname, Name), $"delete veth {Name}");
        }
        catch (NetlinkException e) when (e.Errno == Enodev)
        {
            // Already gone (its namespace went first).
        }
    }
}
