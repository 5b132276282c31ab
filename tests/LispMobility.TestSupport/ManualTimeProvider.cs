namespace LispMobility.TestSupport;

/// <summary>A <see cref="TimeProvider"/> whose clock moves only when a test says so; timers fire on <see cref="Advance"/>.</summary>
public sealed class ManualTimeProvider : TimeProvider
{
    private readonly object _gate = new();
    private readonly List<ManualTimer> _timers = [];
    private DateTimeOffset _now;
    private long _ticks;

    public ManualTimeProvider(DateTimeOffset? start = null)
    {
        _now = start ?? new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);
    }

    public override DateTimeOffset GetUtcNow() { lock (_gate) { return _now; } }

    public override long TimestampFrequency => TimeSpan.TicksPerSecond;

    public override long GetTimestamp() { lock (_gate) { return _ticks; } }

    /// <summary>Moves the clock forward, firing every timer that falls due on the way, in time order.</summary>
    public void Advance(TimeSpan by)
    {
        if (by < TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(by));
        DateTimeOffset target;
        lock (_gate) { target = _now + by; }
        while (true)
        {
            ManualTimer? next;
            lock (_gate)
            {
                next = _timers.Where(t => t.DueAt is { } d && d <= target).OrderBy(t => t.DueAt).FirstOrDefault();
                if (next is null) { _ticks += (target - _now).Ticks; _now = target; return; }
                var due = next.DueAt!.Value;
                if (due > _now) { _ticks += (due - _now).Ticks; _now = due; }
                next.Reschedule(_now);
            }
            next.Fire();
        }
    }

    public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
    {
        var timer = new ManualTimer(this, callback, state);
        lock (_gate) { _timers.Add(timer); }
        timer.Change(dueTime, period);
        return timer;
    }

    private void Remove(ManualTimer timer) { lock (_gate) { _timers.Remove(timer); } }

    private sealed class ManualTimer(ManualTimeProvider owner, TimerCallback callback, object? state) : ITimer
    {
        private TimeSpan _period = Timeout.InfiniteTimeSpan;
        public DateTimeOffset? DueAt { get; private set; }

        public bool Change(TimeSpan dueTime, TimeSpan period)
        {
            lock (owner._gate)
            {
                _period = period;
                DueAt = dueTime == Timeout.InfiniteTimeSpan ? null : owner._now + dueTime;
            }
            return true;
        }

        // Called under the owner's lock: the next due time of a periodic timer, or none.
        public void Reschedule(DateTimeOffset now) =>
            DueAt = _period == Timeout.InfiniteTimeSpan || _period == TimeSpan.Zero ? null : now + _period;

        public void Fire() => callback(state);

        public void Dispose() => owner.Remove(this);

        public ValueTask DisposeAsync() { Dispose(); return ValueTask.CompletedTask; }
    }
}
