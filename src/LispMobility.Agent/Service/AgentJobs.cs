using Microsoft.Extensions.Logging;
using Quartz;

namespace LispMobility.Agent.Service;

/// <summary>Deletes audit rows and finished moves older than the configured retention.</summary>
[DisallowConcurrentExecution]
internal sealed partial class AuditRetentionJob(MobilityAgent agent, ILogger<AuditRetentionJob> logger) : IJob
{
    public ValueTask Execute(IJobExecutionContext context, CancellationToken cancellationToken)
    {
        var removed = agent.Store.Prune(DateTimeOffset.UtcNow - agent.Config.Mobility.AuditRetention);
        LogPruned(removed);
        return ValueTask.CompletedTask;
    }

    [LoggerMessage(EventId = 5300, Level = LogLevel.Information, Message = "Audit retention removed {Rows} row(s)")]
    private partial void LogPruned(int rows);
}

/// <summary>The vCenter sweep that catches anything the change feed missed.</summary>
[DisallowConcurrentExecution]
internal sealed class ReconciliationJob(MobilityAgent agent) : IJob
{
    public async ValueTask Execute(IJobExecutionContext context, CancellationToken cancellationToken)
    {
        if (agent.VCenter is { } vc) await vc.ReconcileAsync(agent.Stream, cancellationToken).ConfigureAwait(false);
    }
}

/// <summary>A scheduled DR drill: computes the failover plan and checks each EID by lookup, moving nothing; the result is audited.</summary>
[DisallowConcurrentExecution]
internal sealed partial class DrillJob(MobilityAgent agent, ILogger<DrillJob> logger) : IJob
{
    public async ValueTask Execute(IJobExecutionContext context, CancellationToken cancellationToken)
    {
        var from = context.MergedJobDataMap.GetString("from")!;
        var to = context.MergedJobDataMap.GetString("to")!;
        var eids = agent.Coordinator.EidsAt(from);
        var answered = 0;
        foreach (var eid in eids)
        {
            try
            {
                await agent.Xtr.ResolveAsync(eid, refresh: true, cancellationToken).WaitAsync(TimeSpan.FromSeconds(5)).ConfigureAwait(false);
                answered++;
            }
            catch (TimeoutException)
            {
                // Counted as unanswered below.
            }
        }

        var detail = $"drill {from} -> {to}: {eids.Count} EID(s) would move; {answered} answered a lookup";
        agent.Store.Audit(new Mobility.Persistence.AuditEntry(0, DateTimeOffset.UtcNow, null, null, null, from, to, "drill", "schedule", "quartz",
            answered == eids.Count ? "ok" : "incomplete", detail, null));
        LogDrill(detail);
    }

    [LoggerMessage(EventId = 5301, Level = LogLevel.Information, Message = "{Detail}")]
    private partial void LogDrill(string detail);
}

/// <summary>The periodic pass of the mobility reconciler (Mobility.ReconcileInterval); it also runs at start and on reconnecting to a Map-Server.</summary>
[DisallowConcurrentExecution]
internal sealed class MobilityReconciliationJob(MobilityAgent agent) : IJob
{
    public async ValueTask Execute(IJobExecutionContext context, CancellationToken cancellationToken) =>
        await agent.ReconcileAsync("periodic", cancellationToken).ConfigureAwait(false);
}
