using System.Buffers.Binary;
using System.Net;
using System.Runtime.InteropServices;
using LispMobility.Platform.Routing;
using LispMobility.Xtr.Routing;

namespace LispMobility.Xtr.Tests;

/// <summary>
/// The argument mapping of the Windows route table, checked byte by byte against the MIB_IPFORWARD_ROW2 layout of
/// netioapi.h (the calls themselves need Windows; this is the payload they would get).
/// </summary>
public sealed class WindowsRouteTableTests
{
    private static byte[] Bytes(MibIpForwardRow2 row) => MemoryMarshal.AsBytes(MemoryMarshal.CreateSpan(ref row, 1)).ToArray();

    [Fact]
    public void The_row_has_the_native_size_and_field_offsets()
    {
        Assert.Equal(104, Marshal.SizeOf<MibIpForwardRow2>());
        Assert.Equal(28, Marshal.SizeOf<SockaddrInet>());
        Assert.Equal(12, (int)Marshal.OffsetOf<MibIpForwardRow2>(nameof(MibIpForwardRow2.DestinationPrefix)));
        Assert.Equal(44, (int)Marshal.OffsetOf<MibIpForwardRow2>(nameof(MibIpForwardRow2.NextHop)));
        Assert.Equal(88, (int)Marshal.OffsetOf<MibIpForwardRow2>(nameof(MibIpForwardRow2.Protocol)));
        Assert.Equal(100, (int)Marshal.OffsetOf<MibIpForwardRow2>(nameof(MibIpForwardRow2.Origin)));
    }

    [Fact]
    public void An_ipv4_host_route_maps_to_a_netmgmt_32_on_the_interface_with_our_metric()
    {
        var b = Bytes(WindowsRouteRow.ToRow(IPAddress.Parse("10.200.0.7"), interfaceIndex: 17, metric: 222));

        Assert.Equal(0ul, BinaryPrimitives.ReadUInt64LittleEndian(b)); // LUID: the index names the interface
        Assert.Equal(17u, BinaryPrimitives.ReadUInt32LittleEndian(b.AsSpan(8)));
        Assert.Equal(2, BinaryPrimitives.ReadUInt16LittleEndian(b.AsSpan(12))); // AF_INET
        Assert.Equal(0, BinaryPrimitives.ReadUInt16LittleEndian(b.AsSpan(14))); // sin_port
        Assert.Equal(new byte[] { 10, 200, 0, 7 }, b[16..20]); // sin_addr, network order
        Assert.Equal(32, b[40]); // PrefixLength
        Assert.Equal(2, BinaryPrimitives.ReadUInt16LittleEndian(b.AsSpan(44))); // next hop: AF_INET, 0.0.0.0 (on-link)
        Assert.All(b[46..72], x => Assert.Equal(0, x));
        Assert.Equal(uint.MaxValue, BinaryPrimitives.ReadUInt32LittleEndian(b.AsSpan(76))); // ValidLifetime infinite
        Assert.Equal(uint.MaxValue, BinaryPrimitives.ReadUInt32LittleEndian(b.AsSpan(80))); // PreferredLifetime infinite
        Assert.Equal(222u, BinaryPrimitives.ReadUInt32LittleEndian(b.AsSpan(84))); // Metric
        Assert.Equal(3, BinaryPrimitives.ReadInt32LittleEndian(b.AsSpan(88))); // MIB_IPPROTO_NETMGMT
        Assert.Equal(new byte[] { 1, 1, 0, 1 }, b[92..96]); // Loopback, AutoconfigureAddress, Publish, Immortal
        Assert.Equal(0, BinaryPrimitives.ReadInt32LittleEndian(b.AsSpan(100))); // NlroManual
    }

    [Fact]
    public void An_ipv6_host_route_maps_to_a_128_with_AF_INET6_23()
    {
        var address = IPAddress.Parse("2001:db8::7");
        var b = Bytes(WindowsRouteRow.ToRow(address, interfaceIndex: 5, metric: 222));

        Assert.Equal(23, BinaryPrimitives.ReadUInt16LittleEndian(b.AsSpan(12))); // Windows AF_INET6
        Assert.Equal(0u, BinaryPrimitives.ReadUInt32LittleEndian(b.AsSpan(16))); // sin6_flowinfo
        Assert.Equal(address.GetAddressBytes(), b[20..36]); // sin6_addr
        Assert.Equal(128, b[40]);
        Assert.Equal(23, BinaryPrimitives.ReadUInt16LittleEndian(b.AsSpan(44)));
        Assert.Equal(5u, BinaryPrimitives.ReadUInt32LittleEndian(b.AsSpan(8)));
    }

    [Fact]
    public void Rows_read_back_as_local_or_blackhole_by_interface_and_only_ours_are_recognised()
    {
        string? Alias(uint i) => i == 17 ? "vEthernet (VMs)" : null;
        var local = WindowsRouteRow.ToRow(IPAddress.Parse("10.200.0.7"), 17, 222);
        var away = WindowsRouteRow.ToRow(IPAddress.Parse("2001:db8::7"), 1, 222);

        Assert.Equal(new HostRoute(IPAddress.Parse("10.200.0.7"), HostRouteKind.Local, "vEthernet (VMs)"), WindowsRouteRow.FromRow(local, 1, 1, Alias));
        Assert.Equal(new HostRoute(IPAddress.Parse("2001:db8::7"), HostRouteKind.Blackhole, null), WindowsRouteRow.FromRow(away, 1, 1, Alias));
        Assert.True(WindowsRouteRow.IsOurs(local, 222));
        Assert.False(WindowsRouteRow.IsOurs(local, 10)); // someone else's metric
        Assert.False(WindowsRouteRow.IsOurs(local with { Protocol = 2 }, 222)); // a local (connected) route
        Assert.False(WindowsRouteRow.IsOurs(local with { DestinationPrefixLength = 24 }, 222));
    }
}
