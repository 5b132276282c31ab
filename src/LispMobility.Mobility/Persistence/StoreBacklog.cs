using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging;

namespace LispMobility.Mobility.Persistence;

/// <summary>The store's state as /healthz and the metrics report it.</summary>
/// <param name="Degraded">True while writes wait in memory because the disk refused them.</param>
/// <param name="Reason">Why (the file and SQLite's cause), while degraded.</param>
/// <param name="Failures">Commits the disk refused since start.</param>
/// <param name="Backlog">Writes waiting in memory.</param>
/// <param name="Dropped">Writes given up because the backlog was full (each one logged).</param>
public sealed record StoreHealth(bool Degraded, string? Reason, long Failures, int Backlog, long Dropped);

/// <summary>
/// The journal and audit writes the disk refused (full, read-only, I/O error), kept in order and in memory until it takes
/// them again — a move goes on meanwhile. Bounded: past its capacity the oldest are dropped, each drop logged and counted.
/// Called under the store's lock; <see cref="Health"/> may be read from any thread.
/// </summary>
internal sealed partial class StoreBacklog : IDisposable
{
    // SQLite's primary result codes that say the disk, not the statement, is at fault.
    private const int Perm = 3, Busy = 5, Locked = 6, ReadOnly = 8, IoError = 10, Full = 13, CantOpen = 14;

    private static readonly TimeSpan RetryInterval = TimeSpan.FromSeconds(5);

    private readonly string _path;
    private readonly int _capacity;
    private readonly ILogger _logger;
    private readonly ITimer _timer;
    private readonly List<MobilityStore.PendingWrite> _writes = [];
    private volatile StoreHealth _health = new(false, null, 0, 0, 0);

    public StoreBacklog(string path, int capacity, ILogger logger, TimeProvider time, Func<bool> retry)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        _path = path;
        _capacity = capacity;
        _logger = logger;
        _timer = time.CreateTimer(_ => retry(), null, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
    }

    public StoreHealth Health => _health;

    public int Count => _writes.Count;

    /// <summary>True when the error is the disk's (or the file's), not the statement's: the write can succeed later.</summary>
    public static bool IsStorageFault(SqliteException e) =>
        (e.SqliteErrorCode & 0xFF) is Perm or Busy or Locked or ReadOnly or IoError or Full or CantOpen;

    /// <summary>The backlog (oldest first) followed by <paramref name="batch"/>; the backlog is emptied.</summary>
    public List<MobilityStore.PendingWrite> TakeAll(List<MobilityStore.PendingWrite> batch)
    {
        if (_writes.Count == 0) return batch;
        var all = new List<MobilityStore.PendingWrite>(_writes.Count + batch.Count);
        all.AddRange(_writes);
        all.AddRange(batch);
        _writes.Clear();
        return all;
    }

    /// <summary>The disk refused <paramref name="writes"/>: kept for later, logged, reported, retried by the timer.</summary>
    public void Defer(List<MobilityStore.PendingWrite> writes, SqliteException cause)
    {
        var wasDegraded = _health.Degraded;
        _writes.AddRange(writes);
        var dropped = Math.Max(0, _writes.Count - _capacity);
        if (dropped > 0)
        {
            _writes.RemoveRange(0, dropped);
            LogDropped(dropped, _path, _capacity);
        }

        var reason = $"the move journal {_path} cannot be written: {Describe(cause)}; {_writes.Count} record(s) kept in memory until it can";
        var h = _health;
        _health = new StoreHealth(true, reason, h.Failures + 1, _writes.Count, h.Dropped + dropped);
        if (!wasDegraded) LogWriteFailed(_path, Describe(cause), _writes.Count);
        _timer.Change(RetryInterval, RetryInterval);
    }

    /// <summary>A commit went through: whatever waited is on disk now.</summary>
    public void Written()
    {
        var h = _health;
        if (!h.Degraded) return;
        _health = h with { Degraded = false, Reason = null, Backlog = 0 };
        _timer.Change(Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
        LogRecovered(_path, h.Backlog);
    }

    private static string Describe(SqliteException e) => (e.SqliteErrorCode & 0xFF) switch
    {
        Full => "the disk is full",
        ReadOnly or Perm or CantOpen => "it is read-only or not writable by this user",
        IoError => "I/O error",
        Busy or Locked => "the file is locked by another process",
        _ => "error",
    } + $" (SQLite error {e.SqliteErrorCode})";

    public void Dispose() => _timer.Dispose();

    [LoggerMessage(EventId = 3200, Level = LogLevel.Error, Message = "The move journal {Path} cannot be written: {Cause}; moves go on and {Backlog} record(s) are kept in memory until it can")]
    private partial void LogWriteFailed(string path, string cause, int backlog);

    [LoggerMessage(EventId = 3201, Level = LogLevel.Information, Message = "The move journal {Path} is written again: {Backlog} record(s) kept in memory are on disk")]
    private partial void LogRecovered(string path, int backlog);

    [LoggerMessage(EventId = 3202, Level = LogLevel.Error, Message = "{Count} journal/audit record(s) of {Path} dropped: more than {Capacity} waited for the disk")]
    private partial void LogDropped(int count, string path, int capacity);
}
