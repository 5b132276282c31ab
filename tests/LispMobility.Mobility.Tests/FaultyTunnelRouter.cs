using System.Collections.Concurrent;
using System.Net;
using LispMobility.Lisp.Records;
using LispMobility.Xtr;
using LispMobility.Xtr.Caching;

namespace LispMobility.Mobility.Tests;

/// <summary>The calls of <see cref="ITunnelRouter"/> a test can make fail.</summary>
public enum RouterCall
{
    Register,
    Resolve,
    Withdraw,
    Solicit,
    /// <summary>The whole host table read (<see cref="ITunnelRouter.Hosts"/>); counted, never failed.</summary>
    Hosts,
}

/// <summary>
/// A real xTR with faults injected in front of it: the next N calls of a chosen kind throw before reaching the xTR (so the
/// network is untouched by a failed attempt), a call can be held until the caller cancels (a crash in the middle of a step),
/// every call is counted, and an EID can be forgotten (the xTR reports no state for it, as one restarted against a
/// Map-Server that does not tell it again what it lost).
/// </summary>
internal sealed class FaultyTunnelRouter(ITunnelRouter inner) : ITunnelRouter
{
    private readonly ConcurrentDictionary<RouterCall, int> _failures = new();
    private readonly ConcurrentDictionary<RouterCall, int> _calls = new();
    private readonly ConcurrentDictionary<RouterCall, bool> _hang = new();
    private readonly ConcurrentDictionary<IPAddress, bool> _broken = new();
    private readonly ConcurrentDictionary<IPAddress, bool> _forgotten = new();
    private readonly TaskCompletionSource _hanging = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public string Site => inner.Site;

    public IReadOnlyList<Locator> Rlocs => inner.Rlocs;

    /// <summary>Runs before each register reaches the xTR (probes for serialization and parallelism).</summary>
    public Func<IPAddress, CancellationToken, Task>? BeforeRegister { get; set; }

    /// <summary>Runs before each resolve reaches the xTR (an answer that takes its time, as under loss).</summary>
    public Func<CancellationToken, Task>? BeforeResolve { get; set; }

    /// <summary>The next <paramref name="count"/> calls of <paramref name="call"/> throw.</summary>
    public void FailNext(RouterCall call, int count) => _failures[call] = count;

    /// <summary>Every register of <paramref name="eid"/> throws (one EID failing among many running in parallel).</summary>
    public void BreakRegister(IPAddress eid) => _broken[eid] = true;

    /// <summary>Calls of <paramref name="call"/> wait until cancelled (a crash mid-saga).</summary>
    public void Hang(RouterCall call) => _hang[call] = true;

    /// <summary>Completes when a call first hangs: the crash point is reached.</summary>
    public Task Hanging => _hanging.Task;

    /// <summary>Calls of <paramref name="call"/> so far, failed ones included.</summary>
    public int Calls(RouterCall call) => _calls.GetValueOrDefault(call);

    public async Task<RegistrationResult> RegisterHostAsync(IPAddress eid, string? range = null, CancellationToken cancellationToken = default)
    {
        await EnterAsync(RouterCall.Register, cancellationToken);
        if (_broken.ContainsKey(eid)) throw new InvalidOperationException($"injected Register failure of {eid}");
        if (BeforeRegister is { } probe) await probe(eid, cancellationToken);
        return await inner.RegisterHostAsync(eid, range, cancellationToken);
    }

    // One call, like one Map-Register exchange: an injected failure or hang hits every EID of it; a broken EID fails alone.
    public Task<RegistrationResult>[] RegisterHostsAsync(IReadOnlyList<IPAddress> eids, string? range = null, CancellationToken cancellationToken = default)
    {
        var all = RegisterAllAsync(eids, range, cancellationToken);
        return eids.Select((_, i) => PickAsync(all, i)).ToArray();
    }

    private async Task<Task<RegistrationResult>[]> RegisterAllAsync(IReadOnlyList<IPAddress> eids, string? range, CancellationToken cancellationToken)
    {
        await EnterAsync(RouterCall.Register, cancellationToken);
        var results = new Task<RegistrationResult>[eids.Count];
        var healthy = new List<int>();
        for (var i = 0; i < eids.Count; i++)
        {
            if (_broken.ContainsKey(eids[i])) results[i] = Task.FromException<RegistrationResult>(new InvalidOperationException($"injected Register failure of {eids[i]}"));
            else healthy.Add(i);
        }

        if (BeforeRegister is { } probe)
        {
            foreach (var i in healthy) await probe(eids[i], cancellationToken);
        }

        var registered = inner.RegisterHostsAsync(healthy.Select(i => eids[i]).ToList(), range, cancellationToken);
        for (var j = 0; j < healthy.Count; j++) results[healthy[j]] = registered[j];
        return results;
    }

    private static async Task<RegistrationResult> PickAsync(Task<Task<RegistrationResult>[]> all, int i) => await (await all)[i];

    public Task[] WithdrawHostsAsync(IReadOnlyList<IPAddress> eids, bool removeRoute = true, CancellationToken cancellationToken = default)
    {
        var all = WithdrawAllAsync(eids, removeRoute, cancellationToken);
        return eids.Select((_, i) => (Task)PickAsync(all, i)).ToArray();
    }

    private async Task<Task[]> WithdrawAllAsync(IReadOnlyList<IPAddress> eids, bool removeRoute, CancellationToken cancellationToken)
    {
        await EnterAsync(RouterCall.Withdraw, cancellationToken);
        return inner.WithdrawHostsAsync(eids, removeRoute, cancellationToken);
    }

    private static async Task PickAsync(Task<Task[]> all, int i) => await (await all)[i];

    public async Task WithdrawHostAsync(IPAddress eid, bool removeRoute = true, CancellationToken cancellationToken = default)
    {
        await EnterAsync(RouterCall.Withdraw, cancellationToken);
        await inner.WithdrawHostAsync(eid, removeRoute, cancellationToken);
    }

    public async Task<MapCacheEntry> ResolveAsync(IPAddress eid, bool refresh = false, CancellationToken cancellationToken = default)
    {
        await EnterAsync(RouterCall.Resolve, cancellationToken);
        if (BeforeResolve is { } wait) await wait(cancellationToken);
        return await inner.ResolveAsync(eid, refresh, cancellationToken);
    }

    // One call for the set: an injected failure or hang hits every EID of it.
    public async Task<IReadOnlyList<Resolution>> ResolveManyAsync(IReadOnlyList<IPAddress> eids, bool refresh = false, CancellationToken cancellationToken = default)
    {
        await EnterAsync(RouterCall.Resolve, cancellationToken);
        if (BeforeResolve is { } wait) await wait(cancellationToken);
        return await inner.ResolveManyAsync(eids, refresh, cancellationToken);
    }

    public int SolicitRemoteItrs(IPAddress eid)
    {
        EnterAsync(RouterCall.Solicit, default).GetAwaiter().GetResult();
        return inner.SolicitRemoteItrs(eid);
    }

    public Task<TimeSpan?> ProbeRlocAsync(IPAddress rloc, IPAddress eid, TimeSpan timeout, CancellationToken cancellationToken = default) =>
        inner.ProbeRlocAsync(rloc, eid, timeout, cancellationToken);

    public void HoldAway(IPAddress eid, MapCacheEntry mapping) => inner.HoldAway(eid, mapping);

    public HostInfo? HostOf(IPAddress eid) => _forgotten.ContainsKey(eid) ? null : inner.HostOf(eid);

    public IReadOnlyList<HostInfo> Hosts()
    {
        _calls.AddOrUpdate(RouterCall.Hosts, 1, (_, c) => c + 1);
        return _forgotten.IsEmpty ? inner.Hosts() : [.. inner.Hosts().Where(h => !_forgotten.ContainsKey(h.Eid.Address.ToIPAddress()))];
    }

    /// <summary>From now on the xTR reports no state for <paramref name="eid"/>.</summary>
    public void Forget(IPAddress eid) => _forgotten[eid] = true;

    private async Task EnterAsync(RouterCall call, CancellationToken cancellationToken)
    {
        var n = _calls.AddOrUpdate(call, 1, (_, c) => c + 1);
        if (_hang.GetValueOrDefault(call))
        {
            _hanging.TrySetResult();
            await Task.Delay(Timeout.Infinite, cancellationToken);
        }

        var left = _failures.GetValueOrDefault(call);
        if (left > 0 && _failures.TryUpdate(call, left - 1, left)) throw new InvalidOperationException($"injected {call} failure (call {n})");
    }
}
