using System.Threading.Channels;

namespace LispMobility.Watchers;

/// <summary>
/// A bounded <see cref="Channel{T}"/> of facts. Full mode is <see cref="BoundedChannelFullMode.Wait"/>: a fact is
/// never dropped, a watcher that outruns the detector is slowed down instead (watchers dedup before publishing,
/// so only a stuck detector can fill it).
/// </summary>
public sealed class WorkloadEventStream : IWorkloadEvents
{
    /// <summary>The capacity used when none is given.</summary>
    public const int DefaultCapacity = 4096;

    private readonly Channel<WorkloadObserved> _channel;

    /// <summary>Creates a stream holding at most <paramref name="capacity"/> unread facts.</summary>
    public WorkloadEventStream(int capacity = DefaultCapacity)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        _channel = Channel.CreateBounded<WorkloadObserved>(new BoundedChannelOptions(capacity)
        {
            FullMode = BoundedChannelFullMode.Wait,
            SingleReader = true,
            SingleWriter = false,
        });
    }

    /// <inheritdoc />
    public ChannelReader<WorkloadObserved> Reader => _channel.Reader;

    /// <inheritdoc />
    public ValueTask PublishAsync(WorkloadObserved fact, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(fact);
        return _channel.Writer.WriteAsync(fact, ct);
    }

    /// <summary>Ends the stream: the reader drains what is left, then completes.</summary>
    public void Complete() => _channel.Writer.TryComplete();
}
