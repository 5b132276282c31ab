using System.Net;
using LispMobility.Mobility.Persistence;
using Microsoft.Extensions.Logging;

namespace LispMobility.Mobility;

/// <summary>
/// What the journal and the audit history say of each move, and the log line of its end: the intent journaled before the
/// network changes, each step after it is done, the end (converged, failed, superseded) committed before the caller hears it.
/// </summary>
internal sealed partial class MoveJournal(MobilityStore store, TimeProvider time, ILogger logger)
{
    private readonly ILogger _logger = logger;

    public MobilityStore Store => store;

    public DateTimeOffset Now => time.GetUtcNow();

    /// <summary>Journals the intents of moves about to start, in one commit, and audits each.</summary>
    public void Begin(IReadOnlyList<MoveRecord> moves, Func<MoveRecord, string> detail)
    {
        store.Begin(moves);
        foreach (var move in moves) Audit(move, "intent", "journaled", detail(move), null);
    }

    /// <summary>A step done.</summary>
    public void Step(MoveRecord move, MoveStep step, string detail, TimeSpan took)
    {
        store.Update(move.Id, MoveState.Running, step, Now);
        Audit(move, step.ToString(), "ok", detail, took.TotalMilliseconds);
    }

    /// <summary>Moves converged, committed together; each audited with its own detail.</summary>
    public void Converged(IReadOnlyList<MoveRecord> moves, Func<MoveRecord, string> detail, TimeSpan took)
    {
        store.Update(moves.Select(m => (m.Id, MoveState.Converged, MoveStep.Done, (string?)null)).ToList(), Now);
        foreach (var move in moves)
        {
            Audit(move, "move", "converged", detail(move), took.TotalMilliseconds);
            LogConverged(move.Eid, move.ToSite, took.TotalMilliseconds);
        }
    }

    /// <summary>A move failed at <paramref name="step"/>.</summary>
    public void Failed(MoveRecord move, MoveStep step, string error, TimeSpan took)
    {
        store.Update(move.Id, MoveState.Failed, step, Now, error);
        Audit(move, "move", "failed", error, took.TotalMilliseconds);
        LogFailed(move.Eid, move.ToSite, error);
    }

    /// <summary>
    /// An intent decided on views that a newer move of its EID has since changed: journaled and audited as not run, so that
    /// `moves` shows why nothing happened.
    /// </summary>
    public void Superseded(MoveRecord move, string why)
    {
        store.Begin(move with { State = MoveState.Superseded, Error = "not run: " + why });
        Audit(move, "intent", "superseded", why, null);
        LogSuperseded(move.Eid, move.ToSite, why);
    }

    /// <summary>An unfinished move of the journal closed at start without running (superseded, or no longer possible).</summary>
    public void NotResumed(MoveRecord move, MoveState state, string why)
    {
        store.Update(move.Id, state, move.Step, Now, "not resumed: " + why);
        Audit(move, "resume", state == MoveState.Superseded ? "superseded" : "failed", why, null);
    }

    /// <summary>An unfinished move of the journal taken up again at start.</summary>
    public void Resumed(MoveRecord move)
    {
        Audit(move, "resume", "resumed", $"from step {move.Step}", null);
        LogResuming(move.Eid, move.Step.ToString());
    }

    /// <summary>A /32 the journal places at this site that was not registered again at start.</summary>
    public void NotRestored(IPAddress eid, string reason) => LogNotRestored(eid.ToString(), reason);

    public void Audit(MoveRecord move, string kind, string outcome, string? detail, double? ms) =>
        store.Audit(new AuditEntry(0, Now, move.Id, move.Eid, move.Vm, move.FromSite, move.ToSite, kind, move.Trigger, move.Source, outcome, detail, ms));

    [LoggerMessage(EventId = 3000, Level = LogLevel.Information, Message = "Move of {Eid} to {Site} converged in {Milliseconds:0.0} ms")]
    private partial void LogConverged(string eid, string site, double milliseconds);

    [LoggerMessage(EventId = 3001, Level = LogLevel.Error, Message = "Move of {Eid} to {Site} failed: {Error}")]
    private partial void LogFailed(string eid, string site, string error);

    [LoggerMessage(EventId = 3002, Level = LogLevel.Warning, Message = "Resuming the move of {Eid} from step {Step}")]
    private partial void LogResuming(string eid, string step);

    [LoggerMessage(EventId = 3003, Level = LogLevel.Warning, Message = "The /32 of {Eid}, held here as the journal says, was not registered again at start: {Reason}")]
    private partial void LogNotRestored(string eid, string reason);

    [LoggerMessage(EventId = 3004, Level = LogLevel.Information, Message = "The move of {Eid} to {Site} is not run: {Why}")]
    private partial void LogSuperseded(string eid, string site, string why);
}
