using System.Net;
using LispMobility.Lisp.Addressing;
using LispMobility.Mobility.Configuration;
using LispMobility.Mobility.Persistence;

namespace LispMobility.Mobility;

/// <summary>
/// A decided move: this EID of this VM now belongs at <see cref="ToSite"/>. <see cref="FromSite"/> is used only while the
/// coordinator has no owner of its own for the EID (inventory not adopted yet); otherwise the site its last move left it at wins.
/// </summary>
/// <param name="DecidedAt">
/// The coordinator's <see cref="MobilityCoordinator.MovesStarted"/> when the views behind this intent were read (a reconciler
/// pass, a retry): a move of the EID started after that supersedes it, and it is journaled as superseded instead of run after
/// that move. Null (a watcher's fresh report): it runs in its turn whatever ran before it.
/// </param>
public sealed record MoveIntent(IPAddress Eid, string Vm, string? FromSite, string ToSite, string Trigger, string Source, long? DecidedAt = null);

/// <summary>How a move ended, with the time each step took.</summary>
/// <param name="Retryable">Failed at a step for a cause that may pass (Map-Server unreachable, timeout, mapping not yet changed).</param>
public sealed record MoveOutcome(Guid Id, IPAddress Eid, string Vm, string? FromSite, string ToSite, MoveState State,
    IReadOnlyList<StepTiming> Steps, TimeSpan Total, string? Error, bool Retryable = false)
{
    /// <summary>True when every step finished.</summary>
    public bool Converged => State == MoveState.Converged;
}

/// <summary>One finished step and how long it took.</summary>
public sealed record StepTiming(MoveStep Step, TimeSpan Elapsed, string Detail);

/// <summary>A step of a running move, as it happens (for live narration and progress).</summary>
public sealed record MoveProgress(Guid MoveId, IPAddress Eid, string Vm, MoveStep Step, TimeSpan Elapsed, string Detail, bool Failed = false);

/// <summary>A configured dynamic-EID range, compiled.</summary>
public sealed record DynamicEidRange(DynamicEidRangeOptions Options, EidPrefix Prefix)
{
    /// <summary>The range's name.</summary>
    public string Name => Options.Name;

    /// <summary>True when <paramref name="site"/> may host addresses of this range.</summary>
    public bool Allows(string site) => Options.Sites.Contains(site, StringComparer.OrdinalIgnoreCase);

    /// <summary>True when <paramref name="site"/> is the range's home (its aggregate lives there).</summary>
    public bool IsHome(string site) => string.Equals(Options.HomeSite, site, StringComparison.OrdinalIgnoreCase);
}
