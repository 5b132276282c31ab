using LispMobility.Lisp.Addressing;

namespace LispMobility.Xtr.Roles;

/// <summary>A dynamic host as the ETR holds it: where it is (its state) and the registration or withdrawal under way.</summary>
internal sealed class DynamicHost
{
    public required EidPrefix Eid { get; init; }
    public required string Range { get; init; }
    public required string? Interface { get; init; }
    public HostState State { get; set; }
    public DateTimeOffset Since { get; set; }

    /// <summary>The latest registration or withdrawal; an acknowledgement counts only for the request it answers.</summary>
    public PendingRegistration? Request { get; set; }
}

/// <summary>The dynamic hosts by address: the registration and away roles' shared record of each host's state.</summary>
internal sealed class HostTable
{
    private readonly Dictionary<LispAddress, DynamicHost> _hosts = [];

    public IEnumerable<DynamicHost> All => _hosts.Values;

    public bool TryGet(LispAddress address, out DynamicHost host) => _hosts.TryGetValue(address, out host!);

    public DynamicHost? Get(LispAddress address) => _hosts.GetValueOrDefault(address);

    public void Put(DynamicHost host) => _hosts[host.Eid.Address] = host;

    /// <summary>Removes the host only if it is still the entry of its address (a new registration may have replaced it).</summary>
    public void Forget(DynamicHost host)
    {
        if (_hosts.TryGetValue(host.Eid.Address, out var current) && ReferenceEquals(current, host)) _hosts.Remove(host.Eid.Address);
    }

    public List<HostInfo> Snapshot() => _hosts.Values.Select(Info).OrderBy(h => h.Eid.ToString(), StringComparer.Ordinal).ToList();

    public HostInfo? InfoOf(LispAddress address) => _hosts.TryGetValue(address, out var host) ? Info(host) : null;

    private static HostInfo Info(DynamicHost h) => new(h.Eid, h.Range, h.State, h.Since);
}

/// <summary>
/// One registration or withdrawal of a host, until every Map-Server acknowledged it or its deadline: its retransmission
/// timer and retry budget, which Map-Servers answered, and who waits for it.
/// </summary>
internal sealed class PendingRegistration
{
    public PendingRegistration(bool withdrawal, DateTimeOffset now, TimeSpan deadline, TimeSpan firstInterval, int mapServers, PendingRegistration? previous)
    {
        Withdrawal = withdrawal;
        Started = now;
        Deadline = now + deadline;
        Interval = firstInterval;
        Acked = new bool[mapServers];
        // Whoever waited for the request this one restarts waits for this one (a registration repeated, a withdrawal repeated).
        if (previous is null) return;
        Waiters.AddRange(previous.Waiters);
        WithdrawWaiters.AddRange(previous.WithdrawWaiters);
        previous.Waiters.Clear();
        previous.WithdrawWaiters.Clear();
    }

    public bool Withdrawal { get; }
    public DateTimeOffset Started { get; }
    public DateTimeOffset Deadline { get; }
    public DateTimeOffset NextRetransmit { get; private set; }
    public TimeSpan Interval { get; private set; }
    public int Transmissions { get; private set; }
    public bool[] Acked { get; }
    public List<TaskCompletionSource<RegistrationResult>> Waiters { get; } = [];
    public List<TaskCompletionSource> WithdrawWaiters { get; } = [];

    public bool AllAcked => Array.TrueForAll(Acked, a => a);

    /// <summary>Counts a transmission and backs off the next one (doubling, up to <paramref name="max"/>).</summary>
    public void Sent(DateTimeOffset now, TimeSpan max)
    {
        Transmissions++;
        NextRetransmit = now + Interval;
        var doubled = Interval * 2;
        Interval = doubled > max ? max : doubled;
    }

    public void Succeed(RegistrationResult result, XtrCall call)
    {
        foreach (var w in Waiters) call.Completions.Add(() => w.TrySetResult(result));
        Waiters.Clear();
    }

    public void Fail(string message, XtrCall call)
    {
        foreach (var w in Waiters) call.Completions.Add(() => w.TrySetException(new XtrRegistrationException(message)));
        Waiters.Clear();
    }

    /// <summary>Ends the withdrawals: done (also when another site took the EID, nothing of ours being registered), or failed with error.</summary>
    public void CompleteWithdrawals(XtrCall call, Exception? error = null)
    {
        foreach (var w in WithdrawWaiters) call.Completions.Add(() => { if (error is null) w.TrySetResult(); else w.TrySetException(error); });
        WithdrawWaiters.Clear();
    }
}
