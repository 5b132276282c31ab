using LispMobility.Lisp.Addressing;

namespace LispMobility.Xtr;

/// <summary>
/// A remote locator as the RLOC prober sees it: up or down (and why), the probes sent to it, answered and left unanswered
/// since it was first used, the misses in a row, and the round trip of its last answered probe.
/// </summary>
public sealed record RemoteRloc(
    LispAddress Rloc, bool Up, string? DownReason, DateTimeOffset Since, int MissedInARow, long ProbesSent, long ProbesAnswered, long ProbesMissed,
    TimeSpan? RoundTrip);
