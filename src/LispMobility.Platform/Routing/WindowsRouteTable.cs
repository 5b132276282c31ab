using System.ComponentModel;
using System.Net;
using System.Net.NetworkInformation;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Runtime.Versioning;

namespace LispMobility.Platform.Routing;

/// <summary>
/// Host routes in the Windows routing table over the IP Helper API (CreateIpForwardEntry2, DeleteIpForwardEntry2,
/// GetIpForwardTable2). Windows takes only MIB_IPPROTO_NETMGMT from callers and has no route tag, so our routes are
/// the /32 and /128 NETMGMT routes carrying our own route metric (<see cref="DefaultMetric"/>, as Linux's protocol 222).
/// Windows has no blackhole route type: an away EID gets a route to the loopback pseudo-interface, which drops it.
/// </summary>
[SupportedOSPlatform("windows")]
public sealed partial class WindowsRouteTable : IRouteTable
{
    /// <summary>The route metric (offset) that marks our routes.</summary>
    public const uint DefaultMetric = 222;

    private const int ErrorNotFound = 1168, ErrorObjectAlreadyExists = 5010;
    private readonly uint _metric;
    private readonly Func<string, uint?> _interfaceIndex;

    /// <summary>Routes tagged with <paramref name="metric"/>; interfaces resolved by alias ("Ethernet 2", "vEthernet (VMs)").</summary>
    public WindowsRouteTable(uint metric = DefaultMetric) : this(metric, InterfaceIndexByAlias)
    {
    }

    internal WindowsRouteTable(uint metric, Func<string, uint?> interfaceIndex)
    {
        _metric = metric;
        _interfaceIndex = interfaceIndex;
    }

    /// <inheritdoc />
    public void Set(HostRoute route)
    {
        ArgumentNullException.ThrowIfNull(route);
        var index = route.Kind == HostRouteKind.Blackhole
            ? LoopbackIndex(route.Address.AddressFamily)
            : string.IsNullOrEmpty(route.Interface)
                ? throw new RouteTableException($"a local route for {route.Address} needs an interface")
                : _interfaceIndex(route.Interface) ?? throw new RouteTableException($"interface '{route.Interface}' does not exist (route for {route.Address})");
        // The kind may change (local <-> away), which changes the interface: our old route goes first.
        Remove(route.Address);
        var row = WindowsRouteRow.ToRow(route.Address, index, _metric);
        var error = CreateIpForwardEntry2(ref row);
        if (error != 0 && error != ErrorObjectAlreadyExists) throw Failure("CreateIpForwardEntry2", route.Address, index, error);
    }

    /// <inheritdoc />
    public void Remove(IPAddress address)
    {
        ArgumentNullException.ThrowIfNull(address);
        foreach (var row in OurRows(address.AddressFamily == AddressFamily.InterNetwork ? WindowsRouteRow.AfInet : WindowsRouteRow.AfInet6))
        {
            if (!row.DestinationPrefix.Read().Equals(address)) continue;
            var copy = row;
            var error = DeleteIpForwardEntry2(ref copy);
            if (error != 0 && error != ErrorNotFound) throw Failure("DeleteIpForwardEntry2", address, row.InterfaceIndex, error);
        }
    }

    /// <inheritdoc />
    public IReadOnlyList<HostRoute> List()
    {
        var loopback4 = LoopbackIndex(AddressFamily.InterNetwork);
        var loopback6 = LoopbackIndex(AddressFamily.InterNetworkV6);
        return OurRows(WindowsRouteRow.AfUnspec).Select(r => WindowsRouteRow.FromRow(r, loopback4, loopback6, InterfaceAlias)).ToList();
    }

    /// <inheritdoc />
    public IReadOnlyList<HostRoute> RemoveAll()
    {
        var routes = List();
        foreach (var r in routes) Remove(r.Address);
        return routes;
    }

    private List<MibIpForwardRow2> OurRows(ushort family)
    {
        var error = GetIpForwardTable2(family, out var table);
        if (error != 0) throw new RouteTableException($"GetIpForwardTable2 failed: {new Win32Exception((int)error).Message} (error {error})");
        try
        {
            var count = (int)Marshal.ReadInt32(table);
            var rows = new List<MibIpForwardRow2>();
            var size = Marshal.SizeOf<MibIpForwardRow2>();
            for (var i = 0; i < count; i++)
            {
                // MIB_IPFORWARD_TABLE2: ULONG NumEntries, then the rows at their 8-byte alignment.
                var row = Marshal.PtrToStructure<MibIpForwardRow2>(table + 8 + i * size);
                if (WindowsRouteRow.IsOurs(row, _metric)) rows.Add(row);
            }

            return rows;
        }
        finally
        {
            FreeMibTable(table);
        }
    }

    private static RouteTableException Failure(string call, IPAddress address, uint index, uint error) =>
        new($"{call} for {address} on interface index {index} failed: {new Win32Exception((int)error).Message} (error {error})");

    private static uint LoopbackIndex(AddressFamily family) =>
        (uint)(family == AddressFamily.InterNetwork ? NetworkInterface.LoopbackInterfaceIndex : NetworkInterface.IPv6LoopbackInterfaceIndex);

    private static uint? InterfaceIndexByAlias(string alias)
    {
        var nic = NetworkInterface.GetAllNetworkInterfaces().FirstOrDefault(n => string.Equals(n.Name, alias, StringComparison.OrdinalIgnoreCase));
        if (nic is null) return null;
        var properties = nic.GetIPProperties();
        return (uint?)(properties.GetIPv4Properties()?.Index ?? properties.GetIPv6Properties()?.Index);
    }

    private static string? InterfaceAlias(uint index) =>
        NetworkInterface.GetAllNetworkInterfaces().FirstOrDefault(n =>
        {
            var p = n.GetIPProperties();
            return p.GetIPv4Properties()?.Index == index || p.GetIPv6Properties()?.Index == index;
        })?.Name;

    [LibraryImport("iphlpapi")]
    private static partial uint CreateIpForwardEntry2(ref MibIpForwardRow2 row);

    [LibraryImport("iphlpapi")]
    private static partial uint DeleteIpForwardEntry2(ref MibIpForwardRow2 row);

    [LibraryImport("iphlpapi")]
    private static partial uint GetIpForwardTable2(ushort family, out IntPtr table);

    [LibraryImport("iphlpapi")]
    private static partial void FreeMibTable(IntPtr memory);
}

/// <summary>
/// The MIB_IPFORWARD_ROW2 mapping of <see cref="WindowsRouteTable"/>, kept free of Windows calls so that it is
/// unit-tested on every platform.
/// </summary>
internal static class WindowsRouteRow
{
    internal const int MibIpProtoNetMgmt = 3;
    internal const ushort AfInet = 2, AfInet6 = 23, AfUnspec = 0;

    /// <summary>The row CreateIpForwardEntry2 gets for a host route (what InitializeIpForwardEntry would set, then ours).</summary>
    internal static MibIpForwardRow2 ToRow(IPAddress address, uint interfaceIndex, uint metric)
    {
        var v4 = address.AddressFamily == AddressFamily.InterNetwork;
        var row = new MibIpForwardRow2
        {
            InterfaceIndex = interfaceIndex,
            DestinationPrefixLength = (byte)(v4 ? 32 : 128),
            SitePrefixLength = 0,
            ValidLifetime = uint.MaxValue,
            PreferredLifetime = uint.MaxValue,
            Metric = metric,
            Protocol = MibIpProtoNetMgmt,
            Loopback = 1,
            AutoconfigureAddress = 1,
            Publish = 0,
            Immortal = 1,
            Origin = 0, // NlroManual
        };
        row.DestinationPrefix.Write(address);
        row.NextHop.Family = v4 ? AfInet : AfInet6; // on-link: unspecified next hop of the route's family
        return row;
    }

    /// <summary>The host route a row of ours describes.</summary>
    internal static HostRoute FromRow(in MibIpForwardRow2 row, uint loopback4, uint loopback6, Func<uint, string?> alias)
    {
        var address = row.DestinationPrefix.Read();
        var loopback = address.AddressFamily == AddressFamily.InterNetwork ? loopback4 : loopback6;
        return row.InterfaceIndex == loopback
            ? new HostRoute(address, HostRouteKind.Blackhole, null)
            : new HostRoute(address, HostRouteKind.Local, alias(row.InterfaceIndex));
    }

    /// <summary>Whether a row is one of ours: a NETMGMT host route with our metric.</summary>
    internal static bool IsOurs(in MibIpForwardRow2 row, uint metric) =>
        row.Protocol == MibIpProtoNetMgmt && row.Metric == metric &&
        (row.DestinationPrefix.Family, row.DestinationPrefixLength) is (AfInet, 32) or (AfInet6, 128);
}

/// <summary>SOCKADDR_INET: a SOCKADDR_IN or SOCKADDR_IN6 (28 bytes, family first, port and address in network order).</summary>
[StructLayout(LayoutKind.Explicit, Size = 28)]
internal unsafe struct SockaddrInet
{
    [FieldOffset(0)] public ushort Family;
    [FieldOffset(2)] public fixed byte Data[26];

    public void Write(IPAddress address)
    {
        Span<byte> bytes = stackalloc byte[16];
        address.TryWriteBytes(bytes, out var written);
        var v4 = address.AddressFamily == AddressFamily.InterNetwork;
        Family = v4 ? WindowsRouteRow.AfInet : WindowsRouteRow.AfInet6;
        // sin_addr sits at byte 4 of SOCKADDR_IN; sin6_addr at byte 8 of SOCKADDR_IN6 (after port and flowinfo).
        var at = v4 ? 2 : 6;
        for (var i = 0; i < written; i++) Data[at + i] = bytes[i];
        if (!v4 && address.ScopeId != 0)
        {
            var scope = (uint)address.ScopeId;
            for (var i = 0; i < 4; i++) Data[22 + i] = (byte)(scope >> (8 * i));
        }
    }

    public readonly IPAddress Read()
    {
        var v4 = Family == WindowsRouteRow.AfInet;
        var bytes = new byte[v4 ? 4 : 16];
        var at = v4 ? 2 : 6;
        for (var i = 0; i < bytes.Length; i++) bytes[i] = Data[at + i];
        return new IPAddress(bytes);
    }
}

/// <summary>MIB_IPFORWARD_ROW2 (netioapi.h), 104 bytes on 32- and 64-bit Windows.</summary>
[StructLayout(LayoutKind.Explicit, Size = 104)]
internal struct MibIpForwardRow2
{
    [FieldOffset(0)] public ulong InterfaceLuid;
    [FieldOffset(8)] public uint InterfaceIndex;
    [FieldOffset(12)] public SockaddrInet DestinationPrefix;
    [FieldOffset(40)] public byte DestinationPrefixLength;
    [FieldOffset(44)] public SockaddrInet NextHop;
    [FieldOffset(72)] public byte SitePrefixLength;
    [FieldOffset(76)] public uint ValidLifetime;
    [FieldOffset(80)] public uint PreferredLifetime;
    [FieldOffset(84)] public uint Metric;
    [FieldOffset(88)] public int Protocol;
    [FieldOffset(92)] public byte Loopback;
    [FieldOffset(93)] public byte AutoconfigureAddress;
    [FieldOffset(94)] public byte Publish;
    [FieldOffset(95)] public byte Immortal;
    [FieldOffset(96)] public uint Age;
    [FieldOffset(100)] public int Origin;
}
