using System.Net;
using LispMobility.Lisp.Addressing;
using LispMobility.Lisp.Messages;
using LispMobility.MappingSystem;
using LispMobility.TestSupport;
using LispMobility.Xtr.Configuration;
using LispMobility.Platform.Routing;
using LispMobility.Xtr.Routing;
using Microsoft.Extensions.Time.Testing;
using LispMobility.TestSupport.Simulation;

namespace LispMobility.Xtr.Tests;

/// <summary>The ETR's host registration against the real Map-Server engine, on a FakeTimeProvider, with datagrams lost on purpose.</summary>
public sealed class RegistrationTests
{
    private static readonly IPAddress Host = IPAddress.Parse("10.200.0.7");
    private readonly XtrLab _lab = XtrLab.Fresh();
    private readonly FakeTimeProvider _time = new(TestClock.Start);
    private readonly SimulatedNetwork _net = new();
    private readonly InMemoryRouteTable _routesA = new();
    private readonly MapServer _ms;
    private readonly XtrEngine _a;

    public RegistrationTests()
    {
        _ms = new MapServer(_lab.MapServer(), _time);
        _a = new XtrEngine(_lab.SiteA(), _routesA, _time);
        _net.Attach(_lab.Endpoint(_lab.Ms), _ms);
        _net.Attach(_lab.Endpoint(_lab.A), _a);
    }

    private IPEndPoint A => _lab.Endpoint(_lab.A);

    private void Advance(double seconds)
    {
        _time.Advance(TimeSpan.FromSeconds(seconds));
        _net.Tick();
    }

    [Fact]
    public async Task Register_sends_one_signed_host_record_with_M_merge_and_xtr_id_and_completes_on_the_map_notify()
    {
        var task = _net.Call(A, sink => _a.BeginRegisterHost(Host, "vm", sink));

        var result = await task.WaitAsync(TimeSpan.FromSeconds(5));
        Assert.Equal(EidPrefix.Parse("10.200.0.7/32"), result.Eid);
        Assert.Equal(1, result.Transmissions);
        var sent = _net.Log.Single(l => l.Type == LispMessageType.MapRegister);
        Assert.True(MapRegister.TryRead(sent.Payload, out var register, out var error), error.ToString());
        Assert.True(register.WantMapNotify);
        Assert.True(register.MergeRequest);
        Assert.Equal(_a.XtrId, register.XtrId);
        var record = Assert.Single(register.Records);
        Assert.Equal(EidPrefix.Parse("10.200.0.7/32"), record.Eid);
        Assert.Equal([LispAddress.Parse(_lab.A)], record.Locators.Select(l => l.Address));
        Assert.Equal(HostState.Registered, _a.HostOf(Host)?.State);
        Assert.Equal(new HostRoute(Host, HostRouteKind.Local, "vm0"), _routesA.Get(Host));
        Assert.Equal(_lab.A, _ms.Lookup(LispAddress.Parse("10.200.0.7"))!.Rlocs.Single().Address.ToString());
    }

    [Fact]
    public async Task Lost_map_notifies_are_retransmitted_after_1_s_doubling_with_ever_increasing_nonces()
    {
        var dropped = 0;
        _net.Drop = (type, _, to, payload) => type == LispMessageType.MapNotify && to.Equals(A) && SimulatedNetwork.IsHostOnly(payload) && dropped++ < 3;
        var task = _net.Call(A, sink => _a.BeginRegisterHost(Host, null, sink));

        Advance(0.999);
        Assert.Equal(1, _net.CountHostOnly(LispMessageType.MapRegister, A));
        Advance(0.001); // t = 1 s: second transmission
        Assert.Equal(2, _net.CountHostOnly(LispMessageType.MapRegister, A));
        Advance(1.999);
        Assert.Equal(2, _net.CountHostOnly(LispMessageType.MapRegister, A));
        Advance(0.001); // t = 3 s: third (interval 2 s)
        Assert.Equal(3, _net.CountHostOnly(LispMessageType.MapRegister, A));
        Assert.False(task.IsCompleted);
        Advance(4); // t = 7 s: fourth (interval 4 s), whose Map-Notify gets through
        var result = await task.WaitAsync(TimeSpan.FromSeconds(5));

        Assert.Equal(4, result.Transmissions);
        Assert.Equal(TimeSpan.FromSeconds(7), result.Elapsed);
        Assert.Equal(3, _a.Counters.RegisterRetransmits);
        var nonces = _net.Log.Where(l => l.Type == LispMessageType.MapRegister).Select(l => MapRegister.TryRead(l.Payload, out var m, out _) ? m.Nonce : 0).ToList();
        Assert.Equal(nonces.Order(), nonces);
        Assert.Equal(nonces.Count, nonces.Distinct().Count());
        Assert.Equal(0, _ms.Counters.Rejected(RejectReason.Replay));
    }

    [Fact]
    public async Task A_silent_map_server_fails_the_registration_at_the_deadline_naming_it_and_the_host_stays_unconfirmed()
    {
        _net.Drop = (type, _, to, _) => type == LispMessageType.MapNotify && to.Equals(A);
        var task = _net.Call(A, sink => _a.BeginRegisterHost(Host, null, sink));

        for (var t = 0; t < 29; t++) Advance(1);
        Assert.False(task.IsCompleted);
        Advance(1); // t = 30 s: RegisterDeadline

        var e = await Assert.ThrowsAsync<XtrRegistrationException>(() => task.WaitAsync(TimeSpan.FromSeconds(5)));
        Assert.Contains($"{_lab.Ms}:4342", e.Message, StringComparison.Ordinal);
        Assert.Contains("10.200.0.7/32", e.Message, StringComparison.Ordinal);
        Assert.Contains("within 30 s (5 transmissions)", e.Message, StringComparison.Ordinal); // t = 0, 1, 3, 7, 15
        Assert.Equal(HostState.Unconfirmed, _a.HostOf(Host)?.State);

        // The periodic registration keeps carrying the unconfirmed host.
        var before = _net.Log.Count;
        Advance(20);
        var periodic = _net.Log.Skip(before).Where(l => l.Type == LispMessageType.MapRegister)
            .SelectMany(l => MapRegister.TryRead(l.Payload, out var m, out _) ? m.Records : []).Select(r => r.Eid.ToString()).ToList();
        Assert.Contains("10.200.0.7/32", periodic);
        Assert.Contains("10.1.0.0/16", periodic);
    }

    [Fact]
    public async Task A_completed_withdrawal_leaves_no_timer_behind_and_does_not_remove_a_later_registration()
    {
        await _net.Call(A, sink => _a.BeginRegisterHost(Host, null, sink)).WaitAsync(TimeSpan.FromSeconds(5));
        await _net.Call(A, sink => _a.BeginWithdrawHost(Host, sink)).WaitAsync(TimeSpan.FromSeconds(5));
        Assert.Null(_a.HostOf(Host)?.State);
        await _net.Call(A, sink => _a.BeginRegisterHost(Host, null, sink)).WaitAsync(TimeSpan.FromSeconds(5));

        for (var t = 0; t < 40; t++) Advance(1); // past every retransmission and the withdrawal's deadline

        Assert.Equal(0, _a.Counters.RegisterRetransmits);
        Assert.Equal(HostState.Registered, _a.HostOf(Host)?.State);
    }

    [Fact]
    public async Task An_unconfirmed_host_is_registered_again_once_a_periodic_register_is_acknowledged()
    {
        _net.Drop = (type, _, to, _) => type == LispMessageType.MapNotify && to.Equals(A);
        var task = _net.Call(A, sink => _a.BeginRegisterHost(Host, null, sink));
        for (var t = 0; t < 30; t++) Advance(1);
        await Assert.ThrowsAsync<XtrRegistrationException>(() => task.WaitAsync(TimeSpan.FromSeconds(5)));
        Assert.Equal(HostState.Unconfirmed, _a.HostOf(Host)?.State);

        _net.Drop = (_, _, _, _) => false; // the Map-Server's answers get through again
        Advance(60);

        Assert.Equal(HostState.Registered, _a.HostOf(Host)?.State);
    }

    [Fact]
    public async Task Each_map_server_is_tracked_separately_and_only_the_silent_one_gets_retransmissions()
    {
        var silent = _lab.Endpoint(_lab.Ms2); // nothing listens there
        var options = _lab.SiteA() with { MapServers = [.. _lab.SiteA().MapServers, _lab.SiteA().MapServers[0] with { Address = $"{_lab.Ms2}:4342" }] };
        var a = new XtrEngine(options, _routesA, _time);
        _net.Attach(A, a);
        var task = _net.Call(A, sink => a.BeginRegisterHost(Host, null, sink));
        for (var t = 0; t < 30; t++) Advance(1);

        var e = await Assert.ThrowsAsync<XtrRegistrationException>(() => task.WaitAsync(TimeSpan.FromSeconds(5)));
        Assert.StartsWith($"Map-Server(s) {_lab.Ms2}:4342 did not", e.Message, StringComparison.Ordinal);
        Assert.Equal(1, _net.CountHostOnly(LispMessageType.MapRegister, A, _lab.Endpoint(_lab.Ms)));
        Assert.Equal(5, _net.CountHostOnly(LispMessageType.MapRegister, A, silent));
        var status = a.MapServerStatus();
        Assert.NotNull(status.Single(s => s.MapServer.Equals(_lab.Endpoint(_lab.Ms))).LastAcknowledged);
        Assert.Null(status.Single(s => s.MapServer.Equals(silent)).LastAcknowledged);
    }

    [Fact]
    public async Task Withdraw_sends_ttl_0_no_locators_and_removes_the_route_and_the_registration()
    {
        await _net.Call(A, sink => _a.BeginRegisterHost(Host, null, sink)).WaitAsync(TimeSpan.FromSeconds(5));

        await _net.Call(A, sink => _a.BeginWithdrawHost(Host, sink)).WaitAsync(TimeSpan.FromSeconds(5));

        var last = _net.Log.Last(l => l.Type == LispMessageType.MapRegister);
        Assert.True(MapRegister.TryRead(last.Payload, out var register, out _));
        Assert.Equal((0u, 0), (register.Records[0].Ttl, register.Records[0].Locators.Count));
        Assert.Null(_routesA.Get(Host));
        Assert.Null(_a.HostOf(Host)?.State);
        Assert.Null(_ms.Lookup(LispAddress.Parse("10.200.0.7")));
    }

    [Fact]
    public async Task A_late_map_notify_for_the_registration_does_not_count_as_the_withdrawal_ack()
    {
        // The register's Map-Notify is lost, the withdrawal's too; the register's arrives late (a delayed duplicate).
        _net.Drop = (type, _, to, _) => type == LispMessageType.MapNotify && to.Equals(A);
        _ = _net.Call(A, sink => _a.BeginRegisterHost(Host, null, sink));
        var registerNotify = _net.Log.Last(l => l.Type == LispMessageType.MapNotify);
        var withdraw = _net.Call(A, sink => _a.BeginWithdrawHost(Host, sink));

        var replies = new Platform.DatagramList();
        _a.Receive(registerNotify.Payload, _lab.Endpoint(_lab.Ms), replies);
        _a.OnTimer(replies);

        Assert.False(withdraw.IsCompleted);
        Assert.Equal(HostState.Withdrawing, _a.HostOf(Host)?.State);
        _net.Drop = (_, _, _, _) => false;
        Advance(1); // retransmitted withdrawal, acknowledged this time
        await withdraw.WaitAsync(TimeSpan.FromSeconds(5));
        Assert.Null(_a.HostOf(Host)?.State);
    }

    [Fact]
    public async Task Many_hosts_registered_at_once_share_map_registers_that_fit_a_datagram_and_each_completes()
    {
        var hosts = Enumerable.Range(1, 100).Select(i => IPAddress.Parse($"10.200.1.{i}")).ToList();
        var outside = IPAddress.Parse("10.9.0.1");

        var tasks = _net.Call(A, sink => _a.BeginRegisterHosts([.. hosts, outside, hosts[0]], null, sink));

        var results = await Task.WhenAll(tasks.Take(100)).WaitAsync(TimeSpan.FromSeconds(5));
        Assert.Equal(hosts.Select(h => h + "/32"), results.Select(r => r.Eid.ToString()));
        Assert.Equal(results[0], await tasks[101].WaitAsync(TimeSpan.FromSeconds(5))); // the same host twice: one registration, both answered
        var e = await Assert.ThrowsAsync<ArgumentException>(() => tasks[100]);
        Assert.StartsWith("10.9.0.1 is in no dynamic-EID range of site a", e.Message, StringComparison.Ordinal);
        var registers = _net.Log.Where(l => l.Type == LispMessageType.MapRegister && l.From.Equals(A))
            .Select(l => MapRegister.TryRead(l.Payload, out var m, out _) ? (m, l.Payload.Length) : default)
            .Where(r => r.m.Records.All(x => x.Eid.IsHost)).ToList();
        // 100 records of 28 bytes, at most 1,200 bytes of records each: three Map-Registers, each host in exactly one.
        Assert.Equal(3, registers.Count);
        Assert.All(registers, r => Assert.True(r.Length <= 1500, $"a Map-Register of {r.Length} bytes"));
        Assert.Equal(hosts.Select(h => h + "/32").Order(), registers.SelectMany(r => r.m.Records).Select(x => x.Eid.ToString()).Order());
        Assert.All(hosts, h => Assert.Equal(HostState.Registered, _a.HostOf(h)?.State));
        Assert.All(hosts, h => Assert.Equal(_lab.A, _ms.Lookup(LispAddress.FromIPAddress(h))!.Rlocs.Single().Address.ToString()));
    }

    [Fact]
    public async Task A_lost_map_notify_of_a_shared_register_retransmits_only_its_hosts_again_together()
    {
        var hosts = Enumerable.Range(1, 60).Select(i => IPAddress.Parse($"10.200.2.{i}")).ToList();
        _net.Tick(); // the first periodic registration (the aggregate) goes now, not inside the retransmission window below
        var dropped = 0;
        // The first Map-Notify to A (the first register's hosts) is lost.
        _net.Drop = (type, _, to, _) => type == LispMessageType.MapNotify && to.Equals(A) && dropped++ == 0;
        var start = _net.Log.Count(l => l.Type == LispMessageType.MapRegister && l.From.Equals(A));
        var tasks = _net.Call(A, sink => _a.BeginRegisterHosts(hosts, "vm", sink));
        var first = _net.Log.Where(l => l.Type == LispMessageType.MapRegister && l.From.Equals(A)).Skip(start).ToList();
        Assert.Equal(2, first.Count);
        Assert.True(MapRegister.TryRead(first[0].Payload, out var lost, out _));

        Advance(1);

        await Task.WhenAll(tasks).WaitAsync(TimeSpan.FromSeconds(5));
        var again = _net.Log.Where(l => l.Type == LispMessageType.MapRegister && l.From.Equals(A)).Skip(start + 2).ToList();
        var retransmitted = Assert.Single(again);
        Assert.True(MapRegister.TryRead(retransmitted.Payload, out var register, out _));
        Assert.Equal(lost.Records.Select(r => r.Eid), register.Records.Select(r => r.Eid));
        Assert.Equal(lost.Records.Count, _a.Counters.RegisterRetransmits);
    }

    [Fact]
    public async Task Many_hosts_withdrawn_at_once_share_map_registers_with_ttl_0()
    {
        var hosts = Enumerable.Range(1, 100).Select(i => IPAddress.Parse($"10.200.3.{i}")).ToList();
        await Task.WhenAll(_net.Call(A, sink => _a.BeginRegisterHosts(hosts, null, sink))).WaitAsync(TimeSpan.FromSeconds(5));
        var before = _net.Log.Count;

        await Task.WhenAll(_net.Call(A, sink => _a.BeginWithdrawHosts(hosts, sink, removeRoute: false))).WaitAsync(TimeSpan.FromSeconds(5));

        var withdrawals = _net.Log.Skip(before).Where(l => l.Type == LispMessageType.MapRegister && l.From.Equals(A))
            .Select(l => MapRegister.TryRead(l.Payload, out var m, out _) ? m : null!).ToList();
        Assert.Equal(2, withdrawals.Count); // 100 records of 16 bytes
        Assert.All(withdrawals.SelectMany(w => w.Records), r => Assert.Equal((0u, 0), (r.Ttl, r.Locators.Count)));
        Assert.All(hosts, h => Assert.Null(_a.HostOf(h)?.State));
        Assert.All(hosts, h => Assert.NotNull(_routesA.Get(h)));
        Assert.DoesNotContain(_ms.ListRegistrations(), r => r.Eid.IsHost);
    }

    [Fact]
    public async Task Register_outside_every_dynamic_range_fails_precisely_without_sending()
    {
        var e = await Assert.ThrowsAsync<ArgumentException>(() => _net.Call(A, sink => _a.BeginRegisterHost(IPAddress.Parse("10.9.0.1"), null, sink)));
        Assert.StartsWith("10.9.0.1 is in no dynamic-EID range of site a", e.Message, StringComparison.Ordinal);
        e = await Assert.ThrowsAsync<ArgumentException>(() => _net.Call(A, sink => _a.BeginRegisterHost(Host, "db", sink)));
        Assert.StartsWith("10.200.0.7 is not inside dynamic-EID range 'db' of site a", e.Message, StringComparison.Ordinal);
        Assert.Empty(_net.Log);
    }

    [Fact]
    public void Invalid_options_are_refused_with_every_problem_naming_its_path()
    {
        var bad = new XtrOptions
        {
            Listen = ["nowhere"], Rlocs = [new LocatorOptions { Address = "x" }],
            MapServers = [new MapServerPeerOptions { Address = "10.0.0.1", Key = "" }],
            DynamicEids = [new DynamicEidOptions { Name = "vm", Prefix = "10.0.0.0/40" }, new DynamicEidOptions { Name = "VM", Prefix = "10.1.0.0/16" }],
        };

        var e = Assert.Throws<ArgumentException>(() => new XtrEngine(bad, new InMemoryRouteTable()));
        foreach (var expected in new[]
        {
            "Xtr.Site: required", "Xtr.Listen[0]: 'nowhere' is not address:port", "Xtr.Rlocs[0].Address: 'x' is not an IP address",
            "Xtr.MapServers[0].Address: '10.0.0.1' is not address:port", "Xtr.MapServers[0].Key: the pre-shared key is empty",
            "Xtr.DynamicEids[0].Prefix: '10.0.0.0/40' is not an EID prefix", "Xtr.DynamicEids[1].Name: 'VM' is configured twice",
        })
        {
            Assert.Contains(expected, e.Message, StringComparison.Ordinal);
        }
    }
}
