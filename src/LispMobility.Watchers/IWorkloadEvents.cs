using System.Threading.Channels;

namespace LispMobility.Watchers;

/// <summary>The one stream every watcher writes its facts to and the move detector reads.</summary>
public interface IWorkloadEvents
{
    /// <summary>Adds a fact to the stream; waits when the stream is full.</summary>
    ValueTask PublishAsync(WorkloadObserved fact, CancellationToken ct);

    /// <summary>The reading end, for the move detector.</summary>
    ChannelReader<WorkloadObserved> Reader { get; }
}

/// <summary>A source of workload facts: vCenter, Hyper-V, the data plane, a simulation.</summary>
public interface IWorkloadWatcher
{
    /// <summary>The source name it puts on its facts.</summary>
    string Name { get; }

    /// <summary>Watches until <paramref name="ct"/> is cancelled; faults only on a configuration it cannot run with.</summary>
    Task RunAsync(IWorkloadEvents events, CancellationToken ct);
}
