using System.Collections.Concurrent;
using System.Net;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

using LispMobility.Platform.Routing;

namespace LispMobility.Xtr.Routing;

/// <summary>A route change the route table refused for good (after the retries a transient failure gets).</summary>
public sealed record RouteProgrammingFailure(RouteChange Change, RouteTableException Error, int Attempts);

/// <summary>
/// The shell's route-programming queue: takes the engine's route changes without blocking and applies them on a thread
/// of its own, in batches (one netlink datagram per few hundred routes), so a slow kernel or a failover's thousands of
/// routes never hold up a LISP message. Later changes of an address supersede earlier ones not yet applied; transient
/// failures are retried with a growing delay; the rest are counted, logged and reported through <see cref="Failed"/>.
/// </summary>
public sealed partial class RouteProgrammer : IRouteChangeSink, IRouteProgrammingStatus, IAsyncDisposable
{
    private readonly IRouteTable _table;
    private readonly ILogger _logger;
    private readonly int _batchSize;
    private readonly int _maxAttempts;
    private readonly TimeSpan _retryDelay;
    private readonly ConcurrentQueue<(RouteChange Change, long Sequence)> _queue = new();
    private readonly SemaphoreSlim _signal = new(0);
    private readonly CancellationTokenSource _stop = new();
    private readonly object _idleGate = new();
    private readonly List<TaskCompletionSource> _idleWaiters = [];
    private readonly Thread _worker;
    private long _enqueued, _settled, _programmed, _batches, _retries, _failures;

    /// <summary>Starts the worker thread.</summary>
    /// <param name="table">The route table, called from the worker only.</param>
    /// <param name="logger">Where refusals are logged.</param>
    /// <param name="batchSize">The most changes handed to the table at once.</param>
    /// <param name="maxAttempts">Attempts a change that fails transiently gets before it is reported as failed.</param>
    /// <param name="retryDelay">The delay before the first retry; doubled for each next one.</param>
    public RouteProgrammer(IRouteTable table, ILogger<RouteProgrammer>? logger = null, int batchSize = 1024, int maxAttempts = 4, TimeSpan? retryDelay = null)
    {
        _table = table ?? throw new ArgumentNullException(nameof(table));
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxAttempts, 1);
        _logger = logger ?? NullLogger<RouteProgrammer>.Instance;
        _batchSize = batchSize;
        _maxAttempts = maxAttempts;
        _retryDelay = retryDelay ?? TimeSpan.FromMilliseconds(200);
        // A thread, not a pool task: a route table call may block for seconds (a netlink timeout) and must not starve the pool.
        _worker = new Thread(Run) { IsBackground = true, Name = "xtr-route-programmer" };
        _worker.Start();
    }

    /// <summary>Raised on the worker thread for each change the table refused for good.</summary>
    public event EventHandler<RouteProgrammingFailure>? Failed;

    /// <inheritdoc />
    public long Pending => Interlocked.Read(ref _enqueued) - Interlocked.Read(ref _settled);

    /// <inheritdoc />
    public long Programmed => Interlocked.Read(ref _programmed);

    /// <inheritdoc />
    public long Batches => Interlocked.Read(ref _batches);

    /// <inheritdoc />
    public long Retries => Interlocked.Read(ref _retries);

    /// <inheritdoc />
    public long Failures => Interlocked.Read(ref _failures);

    /// <inheritdoc />
    public void Enqueue(RouteChange change)
    {
        _queue.Enqueue((change, Interlocked.Increment(ref _enqueued)));
        _signal.Release();
    }

    /// <inheritdoc />
    public Task WhenIdleAsync(CancellationToken cancellationToken = default)
    {
        lock (_idleGate)
        {
            if (Pending == 0) return Task.CompletedTask;
            var tcs = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            _idleWaiters.Add(tcs);
            return tcs.Task.WaitAsync(cancellationToken);
        }
    }

    private void Run()
    {
        // Worker-only state: the newest sequence taken per address while it is unsettled (a retry older than it is
        // superseded), and the retries.
        var latest = new Dictionary<IPAddress, long>();
        var retries = new List<(RouteChange Change, long Sequence, int Attempts, DateTime Due)>();
        var batch = new List<(RouteChange Change, long Sequence, int Attempts)>(_batchSize);
        var slot = new Dictionary<IPAddress, int>();
        while (true)
        {
            var wait = retries.Count == 0 ? Timeout.InfiniteTimeSpan : Max(retries.Min(r => r.Due) - DateTime.UtcNow, TimeSpan.Zero);
            try
            {
                _signal.Wait(wait, _stop.Token);
            }
            catch (OperationCanceledException)
            {
                if (_queue.IsEmpty) break;
            }

            batch.Clear();
            slot.Clear();
            var superseded = 0;
            var now = DateTime.UtcNow;
            for (var i = retries.Count - 1; i >= 0 && batch.Count < _batchSize; i--)
            {
                var r = retries[i];
                if (r.Due > now) continue;
                retries.RemoveAt(i);
                if (!latest.TryGetValue(r.Change.Address, out var newest) || newest != r.Sequence) superseded++;
                else Take(batch, slot, (r.Change, r.Sequence, r.Attempts), ref superseded);
            }

            while (batch.Count < _batchSize && _queue.TryDequeue(out var item))
            {
                latest[item.Change.Address] = item.Sequence;
                Take(batch, slot, (item.Change, item.Sequence, 0), ref superseded);
            }

            // Each dequeued item released the semaphore once; the extra releases only cost an empty pass each.
            Settle(superseded);
            if (batch.Count > 0) Apply(batch, latest, retries);
            if (_stop.IsCancellationRequested && _queue.IsEmpty && retries.Count == 0) break;
        }
    }

    // The newest change of an address replaces an older one in the same batch: each is a whole state, not a delta.
    private static void Take(List<(RouteChange, long, int)> batch, Dictionary<IPAddress, int> slot, (RouteChange Change, long Sequence, int Attempts) item, ref int superseded)
    {
        if (slot.TryGetValue(item.Change.Address, out var at))
        {
            batch[at] = item;
            superseded++;
            return;
        }

        slot[item.Change.Address] = batch.Count;
        batch.Add(item);
    }

    private void Apply(List<(RouteChange Change, long Sequence, int Attempts)> batch, Dictionary<IPAddress, long> latest, List<(RouteChange, long, int, DateTime)> retries)
    {
        Interlocked.Increment(ref _batches);
        RouteTableException?[] failures;
        try
        {
            failures = _table.Apply(batch.ConvertAll(b => b.Change));
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // A table that threw instead of reporting per change: the whole batch failed, and may be tried again.
            var error = e as RouteTableException ?? new RouteTableException(e.Message, e, transient: true);
            failures = Enumerable.Repeat<RouteTableException?>(error, batch.Count).ToArray();
        }

        var settled = 0;
        for (var i = 0; i < batch.Count; i++)
        {
            var (change, sequence, attempts) = batch[i];
            var newest = latest.TryGetValue(change.Address, out var n) && n == sequence;
            if (failures[i] is not { } error)
            {
                Interlocked.Increment(ref _programmed);
                settled++;
                if (newest) latest.Remove(change.Address);
                continue;
            }

            attempts++;
            if (error.Transient && attempts < _maxAttempts && newest)
            {
                Interlocked.Increment(ref _retries);
                retries.Add((change, sequence, attempts, DateTime.UtcNow + _retryDelay * Math.Pow(2, attempts - 1)));
                continue;
            }

            settled++;
            if (newest) latest.Remove(change.Address);
            Interlocked.Increment(ref _failures);
            LogRouteFailure(error, change.ToString(), attempts);
            try
            {
                Failed?.Invoke(this, new RouteProgrammingFailure(change, error, attempts));
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                LogObserverFault(e);
            }
        }

        Settle(settled);
    }

    private void Settle(int count)
    {
        if (count == 0) return;
        Interlocked.Add(ref _settled, count);
        lock (_idleGate)
        {
            if (Pending != 0) return;
            foreach (var w in _idleWaiters) w.TrySetResult();
            _idleWaiters.Clear();
        }
    }

    private static TimeSpan Max(TimeSpan a, TimeSpan b) => a > b ? a : b;

    /// <summary>Applies what is queued (retries get no more time), then stops the worker.</summary>
    public async ValueTask DisposeAsync()
    {
        if (_stop.IsCancellationRequested) return;
        await _stop.CancelAsync().ConfigureAwait(false);
        await Task.Run(_worker.Join).ConfigureAwait(false);
        _stop.Dispose();
        _signal.Dispose();
    }

    [LoggerMessage(EventId = 2005, Level = LogLevel.Error, Message = "Route change '{Change}' could not be programmed ({Attempts} attempts)")]
    private partial void LogRouteFailure(Exception exception, string change, int attempts);

    [LoggerMessage(EventId = 2011, Level = LogLevel.Error, Message = "A route-failure observer failed")]
    private partial void LogObserverFault(Exception exception);
}
