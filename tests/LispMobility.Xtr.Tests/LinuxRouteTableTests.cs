using System.Net;
using System.Runtime.Versioning;
using LispMobility.MappingSystem;
using LispMobility.TestSupport;
using LispMobility.Platform.Routing;
using LispMobility.Xtr.Routing;

using LispMobility.TestSupport.Netns;
using Microsoft.Extensions.Time.Testing;
using LispMobility.TestSupport.Simulation;

namespace LispMobility.Xtr.Tests;

/// <summary>The Linux route table for real: rtnetlink inside a namespace the test creates, checked with <c>ip</c>.</summary>
[SupportedOSPlatform("linux")]
public sealed class LinuxRouteTableTests : IDisposable
{
    private readonly NetworkNamespace _ns = NetworkNamespace.Create("lmxtr");
    private readonly LinuxRouteTable _table = new();

    public LinuxRouteTableTests()
    {
        try
        {
            _ns.Ip("link add vm0 type veth peer name vm1");
            _ns.Ip("link set vm0 up");
            _ns.Ip("link set vm1 up");
        }
        catch
        {
            _ns.Dispose(); // xunit does not dispose a test class whose constructor failed
            throw;
        }
    }

    public void Dispose() => _ns.Dispose();

    private string Routes(string family = "-4") => _ns.Ip($"{family} route show proto 222");

    [Fact]
    public void Host_and_blackhole_routes_are_installed_with_proto_222_listed_and_removed()
    {
        _ns.Enter(() =>
        {
            _table.Set(new HostRoute(IPAddress.Parse("10.200.0.7"), HostRouteKind.Local, "vm0"));
            _table.Set(new HostRoute(IPAddress.Parse("10.200.0.8"), HostRouteKind.Blackhole, null));
            _table.Set(new HostRoute(IPAddress.Parse("2001:db8::7"), HostRouteKind.Local, "vm0"));
            _table.Set(new HostRoute(IPAddress.Parse("2001:db8::8"), HostRouteKind.Blackhole, null));
        });

        var v4 = Routes();
        Assert.Contains("10.200.0.7 dev vm0 scope link", v4, StringComparison.Ordinal);
        Assert.Contains("blackhole 10.200.0.8", v4, StringComparison.Ordinal);
        var v6 = Routes("-6");
        Assert.Contains("2001:db8::7 dev vm0", v6, StringComparison.Ordinal);
        Assert.Contains("blackhole 2001:db8::8", v6, StringComparison.Ordinal);
        var listed = _ns.Enter(_table.List).OrderBy(r => r.Address.ToString(), StringComparer.Ordinal).ToList();
        Assert.Equal(
        [
            (IPAddress.Parse("10.200.0.7"), HostRouteKind.Local, "vm0"), (IPAddress.Parse("10.200.0.8"), HostRouteKind.Blackhole, null),
            (IPAddress.Parse("2001:db8::7"), HostRouteKind.Local, "vm0"),
        ], listed.Take(3).Select(r => (r.Address, r.Kind, r.Interface)));
        Assert.Equal((IPAddress.Parse("2001:db8::8"), HostRouteKind.Blackhole), (listed[3].Address, listed[3].Kind));

        _ns.Enter(() =>
        {
            _table.Remove(IPAddress.Parse("10.200.0.7"));
            _table.Remove(IPAddress.Parse("2001:db8::8"));
            _table.Remove(IPAddress.Parse("10.200.0.99")); // not there: nothing happens
        });

        Assert.DoesNotContain("10.200.0.7", Routes(), StringComparison.Ordinal);
        Assert.DoesNotContain("2001:db8::8", Routes("-6"), StringComparison.Ordinal);
        Assert.Contains("blackhole 10.200.0.8", Routes(), StringComparison.Ordinal);
    }

    [Fact]
    public void Going_away_replaces_the_local_route_with_a_blackhole()
    {
        _ns.Enter(() =>
        {
            _table.Set(new HostRoute(IPAddress.Parse("10.200.0.7"), HostRouteKind.Local, "vm0"));
            _table.Set(new HostRoute(IPAddress.Parse("10.200.0.7"), HostRouteKind.Blackhole, null));
        });

        Assert.Equal("blackhole 10.200.0.7", Routes().Trim());
    }

    [Fact]
    public void RemoveAll_at_startup_removes_what_a_crashed_run_left_and_nothing_else()
    {
        _ns.Ip("route add 10.200.0.9/32 dev vm0 proto 222");
        _ns.Ip("route add blackhole 10.200.0.10/32 proto 222");
        _ns.Ip("route add 10.200.0.11/32 dev vm0"); // the operator's own (proto boot)

        var removed = _ns.Enter(_table.RemoveAll);

        Assert.Equal(2, removed.Count);
        Assert.Equal("", Routes().Trim());
        Assert.Contains("10.200.0.11 dev vm0", _ns.Ip("route show"), StringComparison.Ordinal);
    }

    [Fact]
    public void A_missing_interface_is_a_precise_error()
    {
        var e = Assert.Throws<RouteTableException>(() => _ns.Enter(() => _table.Set(new HostRoute(IPAddress.Parse("10.200.0.7"), HostRouteKind.Local, "nosuch0"))));
        Assert.Equal("interface 'nosuch0' does not exist (route for 10.200.0.7)", e.Message);
    }

    [Fact]
    public void The_engine_programs_the_local_route_then_the_blackhole_when_the_host_moves_away()
    {
        var lab = XtrLab.Fresh();
        var time = new FakeTimeProvider(TestClock.Start);
        var net = new SimulatedNetwork();
        var host = IPAddress.Parse("10.200.0.7");
        _ns.Enter(() =>
        {
            var a = new XtrEngine(lab.SiteA(), new ApplyNow(_table), time);
            var b = new XtrEngine(lab.SiteB(), new InMemoryRouteTable(), time);
            net.Attach(lab.Endpoint(lab.Ms), new MapServer(lab.MapServer(), time));
            net.Attach(lab.Endpoint(lab.A), a);
            net.Attach(lab.Endpoint(lab.B), b);
            Assert.True(net.Call(lab.Endpoint(lab.A), s => a.BeginRegisterHost(host, "vm", s)).IsCompletedSuccessfully);
            Assert.Equal("10.200.0.7 dev vm0 scope link", Routes().Trim());
            Assert.True(net.Call(lab.Endpoint(lab.B), s => b.BeginRegisterHost(host, "vm", s)).IsCompletedSuccessfully);
            Assert.Equal(HostState.Away, a.HostOf(host)?.State);
        });

        Assert.Equal("blackhole 10.200.0.7", Routes().Trim());
    }

    [Fact]
    public void A_batch_goes_down_in_few_datagrams_and_each_change_gets_its_own_answer()
    {
        // 600 changes: more than one datagram's worth; a route to a missing interface and the removal of an absent
        // route among them. The first fails alone, the second is no failure (removal is idempotent).
        var batch = Enumerable.Range(0, 600).Select(i => RouteChange.Host(IPAddress.Parse($"10.201.{i / 250}.{i % 250 + 1}"), "vm0")).ToList();
        batch[100] = RouteChange.Host(IPAddress.Parse("10.202.0.1"), "nosuch0");
        batch[300] = RouteChange.Removal(IPAddress.Parse("10.202.0.2"));
        batch.Add(RouteChange.Blackhole(IPAddress.Parse("10.201.0.1")));

        var failures = _ns.Enter(() => ((IRouteTable)_table).Apply(batch));

        Assert.Equal(batch.Count, failures.Length);
        Assert.Equal("interface 'nosuch0' does not exist (route for 10.202.0.1)", failures[100]?.Message);
        Assert.Single(failures, f => f is not null);
        var routes = _ns.Enter(_table.List);
        Assert.Equal(598, routes.Count);
        Assert.Equal(HostRouteKind.Blackhole, routes.Single(r => r.Address.Equals(IPAddress.Parse("10.201.0.1"))).Kind);
    }

    // In the namespace's thread, the engine's changes applied as they come (the shell's queue would apply them on its own thread).
    private sealed class ApplyNow(IRouteTable table) : IRouteChangeSink
    {
        public void Enqueue(RouteChange change) => change.ApplyTo(table);
    }
}
