using System.Buffers.Binary;
using System.Net;
using System.Net.NetworkInformation;
using System.Net.Sockets;
using System.Runtime.Versioning;
using LispMobility.Platform.Netlink;

namespace LispMobility.Platform.DataPlane.FastPath;

/// <summary>What the kernel fast path is opened with.</summary>
/// <param name="EidDevice">The EID device (the TUN the remote EID space is routed to): the ITR program runs on its egress.</param>
/// <param name="Rlocs">The site's IPv4 RLOCs (at most four): the ETR program runs on the ingress of the interfaces holding them.</param>
/// <param name="InstanceId">The site's instance ID, required of received packets.</param>
/// <param name="DecapsulationDevice">The VXLAN device the ETR program hands packets to (created, replaced if left over, deleted on dispose).</param>
/// <param name="DecapsulationPort">Its UDP port (on every address of the host; VXLAN from the network to it is dropped).</param>
/// <param name="SuperPacketsOnly">The ITR program takes TCP super-packets only, single packets going on to the user-space ITR.</param>
public sealed record FastPathSetup(string EidDevice, IReadOnlyList<IPAddress> Rlocs, uint InstanceId, string DecapsulationDevice, ushort DecapsulationPort, bool SuperPacketsOnly = false);

/// <summary>How one remote EID-prefix is encapsulated: the LISP header's instance ID and LSBs, the outer source, the RLOC per flow bucket.</summary>
public sealed record FastPathRoute(uint InstanceId, byte LocatorStatusBits, IPAddress Source, IReadOnlyList<IPAddress> Buckets)
{
    /// <summary>Flow-hash buckets of a route: a flow's RLOC is its bucket's, so weights are spread over them.</summary>
    public const int BucketCount = 16;
}

/// <summary>What the ETR program does with data for an EID-prefix of this site.</summary>
public enum FastPathEidState
{
    /// <summary>Here: decapsulated.</summary>
    Local = 1,
    /// <summary>Moved away: dropped, the ITR reported for an SMR.</summary>
    Away = 2,
    /// <summary>Of a dynamic-EID range, no host listed: decapsulated, the ITR reported for an SMR.</summary>
    Unlisted = 3,
}

/// <summary>What the ETR program reports for the agent to act on.</summary>
public enum FastPathReportKind
{
    /// <summary>An ITR sent data for an away or unlisted EID: solicit it (SMR).</summary>
    Solicit = 1,
    /// <summary>A remote ITR's packet carried locator-status bits.</summary>
    LocatorStatusBits = 2,
}

/// <summary>One report: <see cref="Eid"/> is the inner destination (solicit) or the inner source (locator-status bits).</summary>
public readonly record struct FastPathReport(FastPathReportKind Kind, IPAddress Itr, IPAddress Eid, uint Bits);

/// <summary>The programs' counters, summed over the CPUs.</summary>
public readonly record struct FastPathCounts(long Encapsulated, long EncapsulatedSuperPackets, long Decapsulated, long DecapsulatedSuperPackets, long AwayDropped, long ForeignVxlanDropped, long Failed);

/// <summary>
/// The xTR's kernel fast path (lisp_fastpath.c): tcx programs that encapsulate what the agent mirrored of its map-cache on
/// the EID device's egress and decapsulate data for the site's EIDs on the RLOC interfaces' ingress, super-packets whole;
/// everything they do not take goes on to the user-space data plane as before. Owns the maps, programs, links and the
/// decapsulation device; disposing detaches everything (the kernel does too if the process dies).
/// </summary>
[SupportedOSPlatform("linux")]
public sealed class KernelFastPath : IDisposable
{
    /// <summary>Remote EID-prefixes the ITR map holds per address family.</summary>
    public const int MaxRoutes = 65536;

    /// <summary>EID entries (prefixes, hosts here, hosts away) the ETR map holds per address family.</summary>
    public const int MaxEids = 65536;

    private const int MaxRlocs = 4, RouteSize = 8 + 4 * FastPathRoute.BucketCount + 8, UsedKeySize = 20, MaxUsedNotes = 8192, ConfigSize = 36, ReportSize = 28, MaxReports = 1024, Counters = 8;
    private const ushort IflaMtu = 4, IflaVxlanLearning = 7, IflaVxlanPort = 15, IflaVxlanZeroCsum6Rx = 20, IflaVxlanCollectMetadata = 25;
    private static readonly byte[] VxlanMac = [0x02, 0x4c, 0x49, 0x53, 0x50, 0x78];

    /// <summary>Every map the programs name, as the loader creates it (the kernel's name is "lisp_" and the name).</summary>
    internal static readonly (string Name, uint Type, int KeySize, int ValueSize, int Entries, uint Flags)[] Maps =
    [
        ("itr4", Bpf.MapLpmTrie, 8, RouteSize, MaxRoutes, Bpf.NoPrealloc),
        ("itr6", Bpf.MapLpmTrie, 20, RouteSize, MaxRoutes, Bpf.NoPrealloc),
        ("etr4", Bpf.MapLpmTrie, 8, 4, MaxEids, Bpf.NoPrealloc),
        ("etr6", Bpf.MapLpmTrie, 20, 4, MaxEids, Bpf.NoPrealloc),
        ("config", Bpf.MapArray, 4, ConfigSize, 1, 0),
        ("counters", Bpf.MapPercpuArray, 4, 8, Counters, 0),
        ("reports", Bpf.MapLruHash, ReportSize, 8, MaxReports, 0),
        ("used", Bpf.MapLruHash, UsedKeySize, 8, MaxUsedNotes, 0),
    ];

    private readonly Dictionary<string, int> _maps = [];
    private readonly List<int> _programs = [];
    private readonly List<int> _links = [];
    private readonly NetlinkSocket _netlink;
    private readonly string _vxlan;
    private readonly int _cpus;
    // Every CPU's value of one counter, as the kernel hands a per-CPU map's element over (read every 100 ms).
    private readonly byte[] _counterValues;
    // The keys of one drain of the reports and used maps (each as large as its map), read every 100 ms, and the values
    // (8 bytes each: when the kernel wrote the element) the batch call hands over beside them.
    private readonly byte[] _reportKeys = new byte[MaxReports * ReportSize];
    private readonly byte[] _usedKeys = new byte[MaxUsedNotes * UsedKeySize];
    private readonly byte[] _takenValues = new byte[Math.Max(MaxReports, MaxUsedNotes) * 8];
    private bool _vxlanCreated;
    private int _disposed;

    private KernelFastPath(FastPathSetup setup)
    {
        _vxlan = setup.DecapsulationDevice;
        _cpus = PossibleCpus();
        _counterValues = new byte[8 * _cpus];
        _netlink = new NetlinkSocket(TimeSpan.FromSeconds(5));
    }

    /// <summary>The interfaces whose ingress runs the ETR program.</summary>
    public IReadOnlyList<string> EtrInterfaces { get; private set; } = [];

    /// <summary>
    /// Creates the maps and the decapsulation device, loads the programs and attaches them; throws
    /// <see cref="BpfException"/>, <see cref="NetlinkException"/> or <see cref="IOException"/> saying which step failed.
    /// </summary>
    public static KernelFastPath Open(FastPathSetup setup)
    {
        ArgumentNullException.ThrowIfNull(setup);
        var rlocs = setup.Rlocs.Where(r => r.AddressFamily == AddressFamily.InterNetwork).ToList();
        if (rlocs.Count == 0) throw new IOException("the kernel fast path needs an IPv4 RLOC (IPv6 RLOCs are served by the user-space data plane)");
        if (rlocs.Count > MaxRlocs) throw new IOException($"the kernel fast path takes at most {MaxRlocs} IPv4 RLOCs, not {rlocs.Count}");
        var eidIndex = IndexOf(setup.EidDevice);
        var interfaces = rlocs.Select(r => InterfaceOf(r) ?? throw new IOException($"no interface holds the RLOC {r}: the ETR program has nowhere to run")).Distinct().ToList();
        var path = new KernelFastPath(setup);
        try
        {
            path.CreateMaps();
            var vxlanIndex = path.CreateDecapsulationDevice(setup.DecapsulationPort);
            path.WriteConfig(setup, rlocs, eidIndex);
            var itr = path.Load(LispFastPathImage.LispItr);
            var etr = path.Load(LispFastPathImage.LispEtr);
            var vxlan = path.Load(LispFastPathImage.LispVxlan);
            // Receive side first: once the ITR runs, answers may come back at once.
            path._links.Add(Bpf.AttachTcx(vxlan, vxlanIndex, Bpf.TcxIngress, $"{LispFastPathImage.LispVxlan.Name} to {setup.DecapsulationDevice} ingress"));
            foreach (var (name, index) in interfaces) path._links.Add(Bpf.AttachTcx(etr, index, Bpf.TcxIngress, $"{LispFastPathImage.LispEtr.Name} to {name} ingress"));
            path._links.Add(Bpf.AttachTcx(itr, eidIndex, Bpf.TcxEgress, $"{LispFastPathImage.LispItr.Name} to {setup.EidDevice} egress"));
            path.EtrInterfaces = [.. interfaces.Select(i => i.Name)];
            return path;
        }
        catch
        {
            path.Dispose();
            throw;
        }
    }

    /// <summary>Maps <paramref name="prefix"/>/<paramref name="length"/> to <paramref name="route"/>; false when the map is full.</summary>
    public bool SetRoute(IPAddress prefix, int length, FastPathRoute route)
    {
        ArgumentNullException.ThrowIfNull(prefix);
        ArgumentNullException.ThrowIfNull(route);
        if (route.Buckets.Count != FastPathRoute.BucketCount) throw new ArgumentException($"a route has {FastPathRoute.BucketCount} buckets", nameof(route));
        Span<byte> value = stackalloc byte[RouteSize];
        BinaryPrimitives.WriteUInt32LittleEndian(value, route.InstanceId << 8 | route.LocatorStatusBits);
        WriteV4(value[4..], route.Source);
        for (var i = 0; i < FastPathRoute.BucketCount; i++) WriteV4(value[(8 + 4 * i)..], route.Buckets[i]);
        // Not used yet: the program notes the route's first packet.
        value[(8 + 4 * FastPathRoute.BucketCount)..].Clear();
        Span<byte> key = stackalloc byte[20];
        return Bpf.Update(_maps[RouteMap(prefix)], Key(prefix, length, key), value);
    }

    /// <summary>Removes <paramref name="prefix"/>/<paramref name="length"/> from the ITR map; false when it was not there.</summary>
    public bool DeleteRoute(IPAddress prefix, int length)
    {
        Span<byte> key = stackalloc byte[20];
        return Bpf.Delete(_maps[RouteMap(prefix)], Key(prefix, length, key));
    }

    /// <summary>Sets the ETR's state of <paramref name="prefix"/>/<paramref name="length"/>; false when the map is full.</summary>
    public bool SetEid(IPAddress prefix, int length, FastPathEidState state)
    {
        Span<byte> value = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(value, (uint)state);
        Span<byte> key = stackalloc byte[20];
        return Bpf.Update(_maps[EidMap(prefix)], Key(prefix, length, key), value);
    }

    /// <summary>Removes <paramref name="prefix"/>/<paramref name="length"/> from the ETR map; false when it was not there.</summary>
    public bool DeleteEid(IPAddress prefix, int length)
    {
        Span<byte> key = stackalloc byte[20];
        return Bpf.Delete(_maps[EidMap(prefix)], Key(prefix, length, key));
    }

    /// <summary>The programs' counters now.</summary>
    public FastPathCounts ReadCounters()
    {
        Span<long> sums = stackalloc long[Counters];
        Span<byte> key = stackalloc byte[4];
        var values = _counterValues;
        for (var i = 0; i < Counters; i++)
        {
            BinaryPrimitives.WriteInt32LittleEndian(key, i);
            if (!Bpf.Lookup(_maps["counters"], key, values)) continue;
            for (var cpu = 0; cpu < _cpus; cpu++) sums[i] += BinaryPrimitives.ReadInt64LittleEndian(values.AsSpan(8 * cpu));
        }

        return new FastPathCounts(sums[0], sums[1], sums[2], sums[3], sums[4], sums[5], sums[6]);
    }

    /// <summary>Moves the reports waiting in the kernel into <paramref name="into"/> (each is taken once); returns how many.</summary>
    public int DrainReports(List<FastPathReport> into)
    {
        ArgumentNullException.ThrowIfNull(into);
        var taken = Bpf.TakeBatch(_maps["reports"], ReportSize, _reportKeys, _takenValues);
        for (var i = 0; i < taken; i++)
        {
            var key = _reportKeys.AsSpan(i * ReportSize, ReportSize);
            var kind = (FastPathReportKind)key[0];
            var eid = key[1] == 4 ? new IPAddress(key.Slice(12, 4)) : new IPAddress(key.Slice(12, 16));
            into.Add(new FastPathReport(kind, new IPAddress(key.Slice(8, 4)), eid, BinaryPrimitives.ReadUInt32LittleEndian(key[4..])));
        }

        return taken;
    }

    /// <summary>
    /// Moves the destinations whose routes the ITR program noted used (at most once a route and second) into
    /// <paramref name="into"/>; returns how many. Notes beyond the map's 8,192 between two calls push out the oldest.
    /// </summary>
    public int DrainUsed(List<IPAddress> into)
    {
        ArgumentNullException.ThrowIfNull(into);
        var taken = Bpf.TakeBatch(_maps["used"], UsedKeySize, _usedKeys, _takenValues);
        for (var i = 0; i < taken; i++)
        {
            var key = _usedKeys.AsSpan(i * UsedKeySize, UsedKeySize);
            into.Add(key[0] == 4 ? new IPAddress(key.Slice(4, 4)) : new IPAddress(key.Slice(4, 16)));
        }

        return taken;
    }

    /// <summary>Detaches the programs (closing their links), closes the maps and deletes the decapsulation device.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        foreach (var fd in _links) Bpf.Close(fd);
        foreach (var fd in _programs) Bpf.Close(fd);
        foreach (var fd in _maps.Values) Bpf.Close(fd);
        if (_vxlanCreated)
        {
            try
            {
                _netlink.Exchange(new NetlinkMessage(Rtnl.DelLink, Rtnl.FRequest | Rtnl.FAck).Ifinfo(0).Attribute(Rtnl.IflaIfname, _vxlan), $"delete {_vxlan}");
            }
            catch (NetlinkException e) when (e.Errno == NetlinkSocket.Enodev)
            {
                // Already gone (its namespace went first).
            }
        }

        _netlink.Dispose();
    }

    private void CreateMaps()
    {
        foreach (var m in Maps) _maps[m.Name] = Bpf.CreateMap(m.Type, m.KeySize, m.ValueSize, m.Entries, m.Flags, "lisp_" + m.Name);
    }

    private int Load(BpfImage image)
    {
        var fd = Bpf.LoadProgram(image, _maps, LispFastPathImage.License);
        _programs.Add(fd);
        return fd;
    }

    private void WriteConfig(FastPathSetup setup, List<IPAddress> rlocs, int eidIndex)
    {
        Span<byte> value = stackalloc byte[ConfigSize];
        value.Clear();
        BinaryPrimitives.WriteUInt32LittleEndian(value, setup.InstanceId);
        for (var i = 0; i < rlocs.Count; i++) WriteV4(value[(4 + 4 * i)..], rlocs[i]);
        BinaryPrimitives.WriteInt32LittleEndian(value[20..], eidIndex);
        BinaryPrimitives.WriteUInt16BigEndian(value[24..], setup.DecapsulationPort);
        VxlanMac.CopyTo(value[26..]);
        BinaryPrimitives.WriteUInt32LittleEndian(value[32..], setup.SuperPacketsOnly ? 1u : 0u);
        Span<byte> key = stackalloc byte[4];
        key.Clear();
        if (!Bpf.Update(_maps["config"], key, value)) throw new IOException("bpf map lisp_config refused its one entry");
    }

    // A collect-metadata VXLAN device (any VNI), no learning, zero UDP checksums accepted over IPv6, an MTU that takes any
    // inner packet.
    private int CreateDecapsulationDevice(ushort port)
    {
        LeftoverLink.Remove(_netlink, _vxlan, "vxlan", "a VXLAN device", "Xtr:DataPlane:FastPathDevice");
        var create = new NetlinkMessage(Rtnl.NewLink, Rtnl.FRequest | Rtnl.FAck | Rtnl.FCreate | Rtnl.FExcl).Ifinfo(0)
            .Attribute(Rtnl.IflaIfname, _vxlan).Attribute(Rtnl.IflaAddress, VxlanMac).Attribute(IflaMtu, 65000u);
        var info = create.BeginNested(Rtnl.IflaLinkinfo);
        create.Attribute(Rtnl.IflaInfoKind, "vxlan");
        var data = create.BeginNested(Rtnl.IflaInfoData);
        Span<byte> portBytes = stackalloc byte[2];
        BinaryPrimitives.WriteUInt16BigEndian(portBytes, port);
        create.Attribute(IflaVxlanCollectMetadata, [1]).Attribute(IflaVxlanLearning, [0]).Attribute(IflaVxlanZeroCsum6Rx, [1]).Attribute(IflaVxlanPort, portBytes);
        create.EndNested(data).EndNested(info);
        _netlink.Exchange(create, $"create VXLAN device {_vxlan} (UDP {port})");
        _vxlanCreated = true;
        var index = IndexOf(_vxlan);
        _netlink.Exchange(new NetlinkMessage(Rtnl.NewLink, Rtnl.FRequest | Rtnl.FAck).Ifinfo(index, Rtnl.IffUp, Rtnl.IffUp), $"set {_vxlan} up");
        return index;
    }

    private static string RouteMap(IPAddress prefix) => prefix.AddressFamily == AddressFamily.InterNetwork ? "itr4" : "itr6";

    private static string EidMap(IPAddress prefix) => prefix.AddressFamily == AddressFamily.InterNetwork ? "etr4" : "etr6";

    // An LPM trie key: the prefix length (host order), then the address's bytes (the kernel compares only the first length bits).
    private static ReadOnlySpan<byte> Key(IPAddress prefix, int length, Span<byte> buffer)
    {
        var size = prefix.AddressFamily == AddressFamily.InterNetwork ? 4 : 16;
        ArgumentOutOfRangeException.ThrowIfGreaterThan(length, size * 8);
        BinaryPrimitives.WriteUInt32LittleEndian(buffer, (uint)length);
        if (!prefix.TryWriteBytes(buffer[4..], out _)) throw new ArgumentException($"cannot write {prefix}", nameof(prefix));
        return buffer[..(4 + size)];
    }

    private static void WriteV4(Span<byte> into, IPAddress address)
    {
        if (address.AddressFamily != AddressFamily.InterNetwork || !address.TryWriteBytes(into[..4], out _))
            throw new ArgumentException($"{address} is not an IPv4 address", nameof(address));
    }

    private static int IndexOf(string name)
    {
        var index = InterfaceIndex.Of(name);
        return index > 0 ? index : throw new IOException($"no interface {name}");
    }

    private static (string Name, int Index)? InterfaceOf(IPAddress address)
    {
        foreach (var nic in NetworkInterface.GetAllNetworkInterfaces())
        {
            if (nic.GetIPProperties().UnicastAddresses.Any(u => u.Address.Equals(address))) return (nic.Name, IndexOf(nic.Name));
        }

        return null;
    }

    // The kernel sizes a per-CPU map's value by the possible CPUs ("0-3" or "0,2-5"), not the online ones.
    private static int PossibleCpus()
    {
        var text = File.ReadAllText("/sys/devices/system/cpu/possible").Trim();
        var highest = text.Split(',').Select(part => int.Parse(part.Split('-')[^1], System.Globalization.CultureInfo.InvariantCulture)).Max();
        return highest + 1;
    }
}
