namespace LispMobility.Agent.Logging;

/// <summary>The agent assembly's event-id table (block 5000–5999): one numbered sub-block per area, so an id in a log line names its source.</summary>
/// <remarks>
/// Every assembly owns one block of a thousand (see <c>docs/logging.md</c>): Transport 100–999, MappingSystem 1000–1999,
/// Xtr 2000–2999, Mobility 3000–3999, Watchers 4000–4999, Agent 5000–5999, Fabric 6000–6999. A test fails on an id outside
/// its assembly's block or used twice. Here: 5000–5099 service plumbing (systemd watchdog, management API); 5100–5199
/// security (API token); 5200–5299 the agent's composition (<c>MobilityAgent</c>); 5300–5399 scheduled jobs.
/// Event Log entries reuse these ids, so they must stay within 0–65535.
/// </remarks>
internal static class AgentLogEvents
{
    public const int First = 5000;
    public const int Last = 5999;
    public const int SystemdWatchdogEnabled = 5004;
    public const int ManagementApiUnauthorized = 5010;
    public const int ManagementApiListening = 5011;
    public const int ApiTokenCreated = 5100;
}
