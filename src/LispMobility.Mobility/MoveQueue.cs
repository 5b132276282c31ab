using System.Collections.Concurrent;
using System.Net;
using LispMobility.Mobility.Persistence;

namespace LispMobility.Mobility;

/// <summary>
/// The order of moves: one at a time per EID (a lock each), a bound on moves running at once, which moves run or wait, and
/// which move of each EID started last — what tells a decision taken on older views that it has been overtaken.
/// </summary>
internal sealed class MoveQueue(int maxParallel)
{
    private readonly ConcurrentDictionary<string, SemaphoreSlim> _perEid = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, int> _moving = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, Guid> _latest = new(StringComparer.Ordinal);
    // Per EID, the number (in _started) of its latest move: what MovedSince compares a decision's count with.
    private readonly ConcurrentDictionary<string, long> _startedAt = new(StringComparer.Ordinal);
    private readonly SemaphoreSlim _parallel = new(maxParallel);
    private long _started;

    /// <summary>Moves started so far (<see cref="MobilityCoordinator.MovesStarted"/>).</summary>
    public long Started => Interlocked.Read(ref _started);

    /// <summary>True while a move of <paramref name="eid"/> runs or waits for its turn.</summary>
    public bool IsMoving(string eid) => _moving.GetValueOrDefault(eid) > 0;

    /// <summary>The latest move of <paramref name="eid"/> started, or null.</summary>
    public Guid? Latest(string eid) => _latest.TryGetValue(eid, out var id) ? id : null;

    /// <summary>True when a move of <paramref name="eid"/> started after <see cref="Started"/> was <paramref name="count"/>.</summary>
    public bool MovedSince(string eid, long count) => _startedAt.GetValueOrDefault(eid) > count;

    /// <summary>Records that <paramref name="move"/> starts (journaled, its EID held).</summary>
    public void Start(MoveRecord move)
    {
        _latest[move.Eid] = move.Id;
        _startedAt[move.Eid] = Interlocked.Increment(ref _started);
    }

    /// <summary>A move's turn: its EID's lock and a slot among the moves running at once; it counts as moving while it waits.</summary>
    public async Task<IDisposable> EnterAsync(string eid, CancellationToken cancellationToken)
    {
        _moving.AddOrUpdate(eid, 1, (_, n) => n + 1);
        try
        {
            var held = await HoldAsync(eid, cancellationToken).ConfigureAwait(false);
            try
            {
                await _parallel.WaitAsync(cancellationToken).ConfigureAwait(false);
            }
            catch
            {
                held.Dispose();
                throw;
            }

            return new Release(() =>
            {
                _parallel.Release();
                held.Dispose();
                _moving.AddOrUpdate(eid, 0, (_, n) => n - 1);
            });
        }
        catch
        {
            _moving.AddOrUpdate(eid, 0, (_, n) => n - 1);
            throw;
        }
    }

    /// <summary>The lock of one EID, without a slot (a release, a resumed move).</summary>
    public async Task<IDisposable> HoldAsync(string eid, CancellationToken cancellationToken)
    {
        var gate = _perEid.GetOrAdd(eid, _ => new SemaphoreSlim(1));
        await gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        return new Release(() => gate.Release());
    }

    /// <summary>
    /// The locks of many EIDs, taken in one order (ordinal EID text) by every holder of many, so that two of them cannot
    /// deadlock; a single move holds one lock only. Cancelled half-way, it lets go of what it took.
    /// </summary>
    public async Task<IDisposable> HoldAsync(IEnumerable<IPAddress> eids, CancellationToken cancellationToken)
    {
        var taken = new List<SemaphoreSlim>();
        try
        {
            foreach (var key in eids.Select(e => e.ToString()).Distinct().Order(StringComparer.Ordinal))
            {
                var gate = _perEid.GetOrAdd(key, _ => new SemaphoreSlim(1));
                await gate.WaitAsync(cancellationToken).ConfigureAwait(false);
                taken.Add(gate);
            }

            return new Release(() => taken.ForEach(g => g.Release()));
        }
        catch
        {
            foreach (var g in taken) g.Release();
            throw;
        }
    }

    private sealed class Release(Action release) : IDisposable
    {
        private int _done;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _done, 1) == 0) release();
        }
    }
}
