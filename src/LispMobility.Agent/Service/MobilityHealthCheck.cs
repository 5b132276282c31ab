using System.Globalization;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace LispMobility.Agent.Service;

/// <summary>
/// /healthz: Degraded, with the reason, while the journal cannot be written or a Map-Server has acknowledged none of the
/// registrations sent to it for three registration intervals; each Map-Server's last acknowledged registration is in the
/// data. An xTR with nothing to register (a standby site whose VMs are all elsewhere) sends none, and is not degraded for it.
/// </summary>
internal sealed class MobilityHealthCheck(MobilityAgent agent, TimeProvider? time = null) : IHealthCheck
{
    private readonly TimeProvider _time = time ?? TimeProvider.System;

    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var reasons = new List<string>();
        var data = new Dictionary<string, object>(StringComparer.Ordinal);
        if (agent.StoreOrNull is { } store && store.Health is { Degraded: true } h) reasons.Add(h.Reason!);

        var now = _time.GetUtcNow();
        var silence = agent.Config.Xtr.RegisterInterval * 3;
        foreach (var (ms, acked, sent) in agent.XtrOrNull?.MapServerStatus() ?? [])
        {
            var quiet = now - (acked ?? agent.Started);
            data[$"map-server {ms}"] = acked is { } a
                ? string.Create(CultureInfo.InvariantCulture, $"last acknowledged registration {(now - a).TotalSeconds:0} s ago ({a:o})")
                : sent is null ? "nothing registered yet: nothing to register" : "no registration acknowledged yet";
            // Silence counts only while a registration sent since the last acknowledgement waits for one.
            var waiting = sent is { } s && (acked is not { } last || s > last);
            if (waiting && quiet > silence) reasons.Add(string.Create(CultureInfo.InvariantCulture, $"Map-Server {ms} unreachable: no registration acknowledged for {quiet.TotalSeconds:0} s"));
        }

        return Task.FromResult(reasons.Count > 0
            ? HealthCheckResult.Degraded(string.Join("; ", reasons), data: data)
            : HealthCheckResult.Healthy(data: data));
    }
}
