namespace LispMobility.Agent.Logging;

/// <summary>The agent assembly's event-id table: one numbered block per area, so an id in a log line names its source.</summary>
/// <remarks>
/// Blocks: 1000–1099 service plumbing (systemd watchdog, management API); 1000–1003 and 1005–1008 were the hand-written
/// systemd and Windows service lifetimes, retired with them (do not reuse); 1100–1199 security (API token);
/// 1200–1299 logging sinks. The composition root, verbs and jobs take blocks from 2000 upward.
/// Event Log entries reuse these ids, so they must stay within 0–65535.
/// </remarks>
internal static class AgentLogEvents
{
    public const int SystemdWatchdogEnabled = 1004;
    public const int ManagementApiUnauthorized = 1010;
    public const int ManagementApiListening = 1011;
    public const int ApiTokenCreated = 1100;
}
