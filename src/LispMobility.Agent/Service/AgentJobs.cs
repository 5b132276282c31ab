using Microsoft.Extensions.Logging;
using Quartz;

namespace LispMobility.Agent.Service;

/// <summary>Deletes audit rows and finished moves older than the configured retention.</summary>
[DisallowConcurrentExecution]
internal sealed partial class AuditRetentionJob(MobilityAgent agent, ILogger<AuditRetentionJob> logger) : IJob
{
    public ValueTask Execute(IJobExecutionContext context, CancellationToken cancellationToken)
    {
        var removed = agent.Store.Prune(agent.Time.GetUtcNow() - agent.Config.Mobility.AuditRetention);
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

/// <summary>
/// A scheduled DR drill: the failover plan the real run would compute (<see cref="FailoverApi.PlanFor"/>), each planned EID
/// checked by lookup, nothing moved; the result is audited. A plan refused or with nothing to move is a failed drill.
/// </summary>
[DisallowConcurrentExecution]
internal sealed partial class DrillJob(MobilityAgent agent, ILogger<DrillJob> logger) : IJob
{
    public async ValueTask Execute(IJobExecutionContext context, CancellationToken cancellationToken)
    {
        var from = context.MergedJobDataMap.GetString("from")!;
        var to = context.MergedJobDataMap.GetString("to")!;
        var plan = FailoverApi.PlanFor(agent, from, to, []);
        string outcome, detail;
        if (plan.Errors.Count > 0) (outcome, detail) = ("refused", $"drill {from} -> {to} refused: {string.Join("; ", plan.Errors)}");
        else if (plan.NothingToMove(agent.Coordinator.Ranges.Where(r => r.IsHome(from)).Select(r => r.Name)) is { } nothing) (outcome, detail) = ("failed", $"drill: {nothing}");
        else
        {
            var answered = 0;
            foreach (var move in plan.Moves)
            {
                try
                {
                    await agent.Xtr.ResolveAsync(move.Eid, refresh: true, cancellationToken).WaitAsync(TimeSpan.FromSeconds(5), cancellationToken).ConfigureAwait(false);
                    answered++;
                }
                catch (Exception e) when (e is TimeoutException or InvalidOperationException)
                {
                    // Counted as unanswered below.
                }
            }

            outcome = answered == plan.Moves.Count ? "ok" : "incomplete";
            detail = $"drill {from} -> {to}: {plan.Moves.Count} EID(s) would move, {plan.Left.Count} left; {answered} answered a lookup";
        }

        agent.Store.Audit(new Mobility.Persistence.AuditEntry(0, agent.Time.GetUtcNow(), null, null, null, from, to, "drill", "schedule", "quartz", outcome, detail, null));
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
