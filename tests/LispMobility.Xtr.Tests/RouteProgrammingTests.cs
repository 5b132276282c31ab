using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using LispMobility.MappingSystem;
using LispMobility.MappingSystem.Hosting;
using LispMobility.Platform.Routing;
using LispMobility.Xtr.Routing;
using Microsoft.Extensions.Logging.Abstractions;
using LispMobility.TestSupport.Simulation;

namespace LispMobility.Xtr.Tests;

/// <summary>
/// Route changes are an output of the engine, applied by the shell's queue off the receive path: a route table that
/// blocks does not hold up the control plane, and a failover's routes go down in batches.
/// </summary>
public sealed class RouteProgrammingTests : IAsyncLifetime
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(5);
    private readonly XtrLab _lab = XtrLab.Fresh();
    private MapServerService _ms = null!;

    public async Task InitializeAsync()
    {
        var options = _lab.MapServer();
        _ms = new MapServerService(new MapServer(options), options, NullLoggerFactory.Instance);
        await _ms.StartAsync(default);
    }

    public async Task DisposeAsync() => await _ms.DisposeAsync();

    [Fact]
    public async Task A_route_table_that_blocks_for_5_s_does_not_hold_up_map_registers_map_notifies_or_map_replies()
    {
        var table = new BlockingRouteTable(TimeSpan.FromSeconds(5));
        await using var a = new XtrNode(_lab.SiteA(), table);
        await using var c = new XtrNode(_lab.SiteC(), new InMemoryRouteTable());
        a.Start();
        c.Start();
        var clock = Stopwatch.StartNew();

        // The first host route blocks the route table for 5 s; the registrations behind it are still acknowledged.
        await a.RegisterHostAsync(IPAddress.Parse("10.200.0.1"), "vm").WaitAsync(Patience);
        await table.Entered.WaitAsync(Patience);
        await a.RegisterHostAsync(IPAddress.Parse("10.200.0.2"), "vm").WaitAsync(Patience);
        // A Map-Request for A's host reaches A's ETR (through the Map-Server), whose Map-Reply comes back to C.
        var mapping = await c.ResolveAsync(IPAddress.Parse("10.200.0.2")).WaitAsync(Patience);
        await a.WithdrawHostAsync(IPAddress.Parse("10.200.0.2")).WaitAsync(Patience);

        Assert.True(table.Blocking, "the control traffic flowed while the route table was blocked");
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(4), $"took {clock.Elapsed}");
        Assert.Equal(_lab.A, mapping.Locators.Single().Address.ToString());
        Assert.Equal(HostState.Registered, a.HostOf(IPAddress.Parse("10.200.0.1"))?.State);

        // Once the table answers, the queue catches up: the first route installed, the second's install and removal applied.
        await a.RouteProgramming.WhenIdleAsync().WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(HostRouteKind.Local, table.Get(IPAddress.Parse("10.200.0.1"))!.Kind);
        Assert.Null(table.Get(IPAddress.Parse("10.200.0.2")));
        Assert.Equal(0, a.RouteProgramming.Failures);
    }

    [Fact]
    public async Task A_failover_of_10000_eids_programs_its_routes_in_batches()
    {
        var table = new RecordingRouteTable(perBatch: TimeSpan.FromMilliseconds(5));
        await using var b = new XtrNode(_lab.SiteB(), table);
        b.Start();
        var hosts = Enumerable.Range(0, 10_000).Select(i => IPAddress.Parse($"10.200.{i / 250}.{i % 250 + 1}")).ToList();

        await Task.WhenAll(b.RegisterHostsAsync(hosts, "vm")).WaitAsync(TimeSpan.FromSeconds(30));
        await b.RouteProgramming.WhenIdleAsync().WaitAsync(TimeSpan.FromSeconds(30));

        Assert.Equal(10_000, table.List().Count);
        Assert.All(hosts.Take(10), h => Assert.Equal(HostRouteKind.Local, table.Get(h)!.Kind));
        Assert.Equal(10_000, table.BatchSizes.Sum());
        Assert.True(table.BatchSizes.Count <= 100, $"{table.BatchSizes.Count} batches");
        Assert.Equal(table.BatchSizes.Count, b.RouteProgramming.Batches);
        Assert.Equal(10_000, b.RouteProgramming.Programmed);
    }

    [Fact]
    public async Task A_transient_failure_is_retried_and_a_permanent_one_reported_once()
    {
        var table = new RecordingRouteTable(perBatch: TimeSpan.Zero);
        var flaky = IPAddress.Parse("10.200.0.1");
        var broken = IPAddress.Parse("10.200.0.2");
        table.Fail[flaky] = new Queue<bool>([true, true]); // transient twice, then applied
        table.Fail[broken] = new Queue<bool>([false]);
        await using var programmer = new RouteProgrammer(table, retryDelay: TimeSpan.FromMilliseconds(10));
        var failures = new ConcurrentBag<RouteProgrammingFailure>();
        programmer.Failed += (_, f) => failures.Add(f);

        programmer.Enqueue(RouteChange.Host(flaky, "vm0"));
        programmer.Enqueue(RouteChange.Blackhole(broken));
        await programmer.WhenIdleAsync().WaitAsync(Patience);

        Assert.Equal(HostRouteKind.Local, table.Get(flaky)!.Kind);
        Assert.Null(table.Get(broken));
        Assert.Equal(2, programmer.Retries);
        Assert.Equal(1, programmer.Failures);
        var failure = Assert.Single(failures);
        Assert.Equal(RouteChange.Blackhole(broken), failure.Change);
        Assert.Equal(1, failure.Attempts);
    }

    [Fact]
    public async Task A_later_change_of_an_address_supersedes_one_not_yet_applied()
    {
        var table = new BlockingRouteTable(TimeSpan.FromSeconds(5));
        await using var programmer = new RouteProgrammer(table);
        var blocker = IPAddress.Parse("10.200.9.9");
        var host = IPAddress.Parse("10.200.0.1");

        programmer.Enqueue(RouteChange.Host(blocker, "vm0"));
        await table.Entered.WaitAsync(Patience);
        programmer.Enqueue(RouteChange.Host(host, "vm0"));
        programmer.Enqueue(RouteChange.Blackhole(host));
        programmer.Enqueue(RouteChange.Removal(host));
        programmer.Enqueue(RouteChange.Blackhole(host));
        table.Release();
        await programmer.WhenIdleAsync().WaitAsync(Patience);

        Assert.Equal(HostRouteKind.Blackhole, table.Get(host)!.Kind);
        Assert.Equal(2, programmer.Programmed);
    }

    /// <summary>A route table whose first change blocks until released or for the given time (a kernel that does not answer).</summary>
    private sealed class BlockingRouteTable(TimeSpan block) : IRouteTable
    {
        private readonly InMemoryRouteTable _inner = new();
        private readonly ManualResetEventSlim _release = new();
        private readonly TaskCompletionSource _entered = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private int _calls;

        public Task Entered => _entered.Task;
        public bool Blocking => _entered.Task.IsCompleted && !_release.IsSet;
        public void Release() => _release.Set();
        public HostRoute? Get(IPAddress address) => _inner.Get(address);

        public void Set(HostRoute route)
        {
            Block();
            _inner.Set(route);
        }

        public void Remove(IPAddress address)
        {
            Block();
            _inner.Remove(address);
        }

        public IReadOnlyList<HostRoute> List() => _inner.List();
        public IReadOnlyList<HostRoute> RemoveAll() => _inner.RemoveAll();

        private void Block()
        {
            if (Interlocked.Increment(ref _calls) != 1) return;
            _entered.TrySetResult();
            _release.Wait(block);
            _release.Set();
        }
    }

    /// <summary>An in-memory route table that records its batches, takes a while per batch (a netlink round trip) and fails on demand.</summary>
    private sealed class RecordingRouteTable(TimeSpan perBatch) : IRouteTable
    {
        private readonly InMemoryRouteTable _inner = new();

        public ConcurrentQueue<int> BatchSizes { get; } = new();

        // Per address, the failures to report before applying: true = transient.
        public ConcurrentDictionary<IPAddress, Queue<bool>> Fail { get; } = new();

        public HostRoute? Get(IPAddress address) => _inner.Get(address);
        public void Set(HostRoute route) => _inner.Set(route);
        public void Remove(IPAddress address) => _inner.Remove(address);
        public IReadOnlyList<HostRoute> List() => _inner.List();
        public IReadOnlyList<HostRoute> RemoveAll() => _inner.RemoveAll();

        public RouteTableException?[] Apply(IReadOnlyList<RouteChange> batch)
        {
            BatchSizes.Enqueue(batch.Count);
            if (perBatch > TimeSpan.Zero) Thread.Sleep(perBatch);
            var failures = new RouteTableException?[batch.Count];
            for (var i = 0; i < batch.Count; i++)
            {
                if (Fail.TryGetValue(batch[i].Address, out var plan) && plan.TryDequeue(out var transient))
                {
                    failures[i] = new RouteTableException($"refused {batch[i]}", transient: transient);
                    continue;
                }

                batch[i].ApplyTo(_inner);
            }

            return failures;
        }
    }
}
