using System.Diagnostics.Metrics;
using LispMobility.Mobility;
using LispMobility.Mobility.Persistence;
using LispMobility.Xtr;

namespace LispMobility.Agent.Service;

/// <summary>The agent's instruments, one <see cref="Meter"/> per component, named as Prometheus shows them (docs/metrics.md).</summary>
/// <remarks>
/// Moves are recorded as they finish (a counter and two histograms whose buckets come with the instrument as advice);
/// the protocol engines' numbers are read by observable instruments when a scrape or an export asks, so nothing polls.
/// </remarks>
internal sealed class AgentMetrics
{
    public const string MobilityMeter = "LispMobility.Mobility";
    public const string XtrMeter = "LispMobility.Xtr";
    public const string MappingSystemMeter = "LispMobility.MappingSystem";

    // The protocol engines' refusals: one family with a component label (Prometheus allows a name once, so it cannot
    // live in both engines' meters).
    public const string ControlPlaneMeter = "LispMobility.ControlPlane";

    /// <summary>Seconds from a move's detection to its last saga step.</summary>
    public static readonly IReadOnlyList<double> ConvergenceBuckets = [0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

    /// <summary>Seconds one saga step took (journal, register, notify, gateways, audit).</summary>
    public static readonly IReadOnlyList<double> SagaStepBuckets = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

    private readonly Counter<long> _moves;
    private readonly Histogram<double> _convergence;
    private readonly Histogram<double> _steps;
    private readonly Counter<long> _repairs;
    private readonly Counter<long> _passes;

    public AgentMetrics(IMeterFactory factory, MobilityAgent agent)
    {
        ArgumentNullException.ThrowIfNull(factory);
        var mobility = factory.Create(MobilityMeter);
        _moves = mobility.CreateCounter<long>("lispmobility_moves_total", description: "Moves by outcome.");
        _convergence = mobility.CreateHistogram("lispmobility_move_convergence_seconds", unit: "s",
            description: "Time from a move's detection to its last saga step (converged moves).",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = ConvergenceBuckets });
        _steps = mobility.CreateHistogram("lispmobility_saga_step_seconds", unit: "s",
            description: "Time each step of a move's saga took, by step.",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = SagaStepBuckets });

        _repairs = mobility.CreateCounter<long>("lispmobility_reconciliation_repairs_total",
            description: "Differences the reconciler found between the watchers, the mapping system and the xTR, each handed to the coordinator as a move.");
        _passes = mobility.CreateCounter<long>("lispmobility_reconciliation_passes_total",
            description: "Reconciliation passes by cause: at start, periodic (Mobility.ReconcileInterval), on reconnecting to a Map-Server.");
        mobility.CreateObservableGauge("lispmobility_journal_backlog",
            () => agent.StoreOrNull is { } store ? [new Measurement<long>(store.Health.Backlog)] : Array.Empty<Measurement<long>>(),
            description: "Journal and audit writes the disk refused, kept in memory until it takes them.");
        mobility.CreateObservableCounter("lispmobility_journal_write_failures_total",
            () => agent.StoreOrNull is { } store ? [new Measurement<long>(store.Health.Failures)] : Array.Empty<Measurement<long>>(),
            description: "Commits of the journal the disk refused (full, read-only, I/O error).");
        mobility.CreateObservableCounter("lispmobility_journal_dropped_total",
            () => agent.StoreOrNull is { } store ? [new Measurement<long>(store.Health.Dropped)] : Array.Empty<Measurement<long>>(),
            description: "Journal and audit writes given up because the in-memory backlog was full (each logged).");

        var mappingSystem = factory.Create(MappingSystemMeter);
        mappingSystem.CreateObservableGauge("lispmobility_registrations",
            () => agent.MapServer is { } ms ? [new Measurement<long>(ms.RegistrationCount)] : Array.Empty<Measurement<long>>(),
            description: "EID-prefixes registered at the embedded Map-Server.");

        var xtr = factory.Create(XtrMeter);
        xtr.CreateObservableGauge("lispmobility_dynamic_hosts", () => Hosts(agent.XtrOrNull),
            description: "Dynamic hosts known to this site's xTR, by state.");
        xtr.CreateObservableGauge("lispmobility_map_cache_entries",
            () => agent.XtrOrNull is { } node ? [new Measurement<long>(node.MapCacheEntries().Count)] : Array.Empty<Measurement<long>>(),
            description: "Map-cache entries of this site's ITR.");
        xtr.CreateObservableGauge("lispmobility_route_changes", () => RouteChanges(agent.XtrOrNull),
            description: "Host-route changes the route-programming queue applied, retried after a transient failure, or gave up on (running total).");
        xtr.CreateObservableGauge("lispmobility_route_batches",
            () => agent.XtrOrNull is { } batched ? [new Measurement<long>(batched.RouteProgramming.Batches)] : Array.Empty<Measurement<long>>(),
            description: "Batches of host-route changes handed to the route table (running total).");
        xtr.CreateObservableGauge("lispmobility_route_queue_depth",
            () => agent.XtrOrNull is { } queued ? [new Measurement<long>(queued.RouteProgramming.Pending)] : Array.Empty<Measurement<long>>(),
            description: "Host-route changes waiting to be applied.");
        xtr.CreateObservableGauge("lispmobility_engine_faults", () => Faults(agent.XtrOrNull),
            description: "Work items a protocol engine failed on and dropped (a bug; the log has the first of each minute).");

        xtr.CreateObservableGauge("lispmobility_rloc_up", () => Rlocs(agent.XtrOrNull, r => r.Up ? 1 : 0),
            description: "Remote locators the RLOC prober knows: 1 up, 0 down (missed probes or the remote site's locator-status bits).");
        xtr.CreateObservableCounter("lispmobility_rloc_probes_total", () => Probes(agent.XtrOrNull),
            description: "RLOC probes per remote locator: sent, answered, and missed (no answer by the next round).");
        xtr.CreateObservableGauge("lispmobility_rloc_probe_rtt_seconds",
            () => (agent.XtrOrNull?.RemoteRlocs() ?? []).Where(r => r.RoundTrip is not null).Select(r => new Measurement<double>(r.RoundTrip!.Value.TotalSeconds, Rloc(r))),
            unit: "s", description: "Round trip of the last answered RLOC probe per remote locator.");
        xtr.CreateObservableCounter("lispmobility_data_plane_packets_total", () => DataPlanePackets(agent.XtrOrNull),
            description: "Data-plane packets encapsulated, decapsulated, forwarded natively, or held on a map-cache miss; TCP super-packets the ITR cut (super-packet) and runs of TCP segments or UDP datagrams the ETR joined (joined); runs of outer packets sent as one UDP GSO send (udp-gso-send) and received as one (udp-gro-receive); of all these, what the kernel fast path encapsulated and decapsulated (fast-path-encapsulated, fast-path-decapsulated), and of those the super-packets (fast-path-super-encapsulated, fast-path-super-decapsulated).");
        xtr.CreateObservableGauge("lispmobility_data_plane_fast_path", () => FastPath(agent.XtrOrNull),
            description: "1 while the kernel fast path's programs are attached, 0 when the data plane runs without them (off, refused at start, or detached after its maps could not be kept up to date).");
        xtr.CreateObservableCounter("lispmobility_data_plane_drops_total", () => DataPlaneDrops(agent.XtrOrNull),
            description: "Data-plane packets dropped, by reason.");

        factory.Create(ControlPlaneMeter).CreateObservableGauge("lispmobility_rejected_packets", () => Rejected(agent),
            description: "Control messages refused, by component and reason (running total).");
    }

    public void Record(MoveOutcome move)
    {
        ArgumentNullException.ThrowIfNull(move);
        var outcome = move.State switch { MoveState.Converged => "converged", MoveState.Superseded => "superseded", _ => "failed" };
        _moves.Add(1, new KeyValuePair<string, object?>("outcome", outcome));
        if (move.Converged) _convergence.Record(move.Total.TotalSeconds);
        foreach (var step in move.Steps) _steps.Record(step.Elapsed.TotalSeconds, new KeyValuePair<string, object?>("step", step.Step.ToString()));
    }

    public void Record(ReconcileReport report)
    {
        ArgumentNullException.ThrowIfNull(report);
        // Bounded label values: the reconnect cause names the Map-Server.
        _passes.Add(1, new KeyValuePair<string, object?>("cause", report.Cause is "start" or "periodic" ? report.Cause : "reconnect"));
        if (report.Repairs.Count > 0) _repairs.Add(report.Repairs.Count);
    }

    private static IEnumerable<Measurement<long>> Hosts(XtrNode? node)
    {
        if (node is null) yield break;
        var hosts = node.Hosts();
        foreach (var state in Enum.GetValues<HostState>())
            yield return new Measurement<long>(hosts.Count(h => h.State == state), new KeyValuePair<string, object?>("state", state.ToString()));
    }

    private static IEnumerable<Measurement<long>> RouteChanges(XtrNode? node)
    {
        if (node is null) yield break;
        var routes = node.RouteProgramming;
        yield return new Measurement<long>(routes.Programmed, new KeyValuePair<string, object?>("result", "programmed"));
        yield return new Measurement<long>(routes.Retries, new KeyValuePair<string, object?>("result", "retried"));
        yield return new Measurement<long>(routes.Failures, new KeyValuePair<string, object?>("result", "failed"));
    }

    private static KeyValuePair<string, object?> Rloc(RemoteRloc r) => new("rloc", r.Rloc.ToString());

    private static IEnumerable<Measurement<long>> Rlocs(XtrNode? node, Func<RemoteRloc, long> value) =>
        (node?.RemoteRlocs() ?? []).Select(r => new Measurement<long>(value(r), Rloc(r)));

    private static IEnumerable<Measurement<long>> Probes(XtrNode? node)
    {
        foreach (var r in node?.RemoteRlocs() ?? [])
        {
            yield return new Measurement<long>(r.ProbesSent, Rloc(r), new KeyValuePair<string, object?>("result", "sent"));
            yield return new Measurement<long>(r.ProbesAnswered, Rloc(r), new KeyValuePair<string, object?>("result", "answered"));
            yield return new Measurement<long>(r.ProbesMissed, Rloc(r), new KeyValuePair<string, object?>("result", "missed"));
        }
    }

    private static IEnumerable<Measurement<long>> DataPlanePackets(XtrNode? node)
    {
        if (!OperatingSystem.IsLinux() || node?.DataPlane?.Counters is not { } c) yield break;
        yield return new Measurement<long>(c.Encapsulated, new KeyValuePair<string, object?>("result", "encapsulated"));
        yield return new Measurement<long>(c.Decapsulated, new KeyValuePair<string, object?>("result", "decapsulated"));
        yield return new Measurement<long>(c.NativelyForwarded, new KeyValuePair<string, object?>("result", "native"));
        yield return new Measurement<long>(c.Held, new KeyValuePair<string, object?>("result", "held"));
        yield return new Measurement<long>(c.SuperPackets, new KeyValuePair<string, object?>("result", "super-packet"));
        yield return new Measurement<long>(c.Joined, new KeyValuePair<string, object?>("result", "joined"));
        yield return new Measurement<long>(c.SegmentedSends, new KeyValuePair<string, object?>("result", "udp-gso-send"));
        yield return new Measurement<long>(c.CoalescedReceives, new KeyValuePair<string, object?>("result", "udp-gro-receive"));
        yield return new Measurement<long>(c.FastPathEncapsulated, new KeyValuePair<string, object?>("result", "fast-path-encapsulated"));
        yield return new Measurement<long>(c.FastPathDecapsulated, new KeyValuePair<string, object?>("result", "fast-path-decapsulated"));
        yield return new Measurement<long>(c.FastPathEncapsulatedSuperPackets, new KeyValuePair<string, object?>("result", "fast-path-super-encapsulated"));
        yield return new Measurement<long>(c.FastPathDecapsulatedSuperPackets, new KeyValuePair<string, object?>("result", "fast-path-super-decapsulated"));
    }

    private static IEnumerable<Measurement<int>> FastPath(XtrNode? node)
    {
        if (!OperatingSystem.IsLinux() || node?.DataPlane is not { } dataPlane) yield break;
        yield return new Measurement<int>(dataPlane.FastPathActive ? 1 : 0);
    }

    private static IEnumerable<Measurement<long>> DataPlaneDrops(XtrNode? node)
    {
        if (!OperatingSystem.IsLinux() || node?.DataPlane?.Counters is not { } c) yield break;
        foreach (var (reason, n) in c.Drops()) yield return new Measurement<long>(n, new KeyValuePair<string, object?>("reason", reason.ToString()));
    }

    private static IEnumerable<Measurement<long>> Faults(XtrNode? node)
    {
        if (node is null) yield break;
        yield return Labelled(node.Counters.TimerFaults, "xtr", ("where", "timer"));
        yield return Labelled(node.Counters.ReceiveFaults, "xtr", ("where", "receive"));
    }

    private static IEnumerable<Measurement<long>> Rejected(MobilityAgent agent)
    {
        if (agent.MapServer is { } ms)
        {
            foreach (var (reason, n) in ms.Counters.RejectedByReason()) yield return Labelled(n, "map-server", ("reason", reason.ToString()));
        }

        if (agent.XtrOrNull is { } node)
        {
            yield return Labelled(node.Counters.MalformedCount, "xtr", ("reason", "Malformed"));
            yield return Labelled(node.Counters.NotifiesRejected, "xtr", ("reason", "NotifyRejected"));
            yield return Labelled(node.Counters.UnsupportedEids, "xtr", ("reason", "UnsupportedEid"));
        }
    }

    private static Measurement<long> Labelled(long value, string component, (string Key, string Value) label) =>
        new(value, new KeyValuePair<string, object?>("component", component), new KeyValuePair<string, object?>(label.Key, label.Value));
}
