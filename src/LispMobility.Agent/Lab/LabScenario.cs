using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.NetworkInformation;
using LispMobility.Fabric;
using LispMobility.MappingSystem;
using LispMobility.MappingSystem.Hosting;
using LispMobility.Mobility;
using LispMobility.Mobility.Persistence;
using LispMobility.Watchers;
using LispMobility.Watchers.Simulated;
using LispMobility.Xtr;
using LispMobility.Platform.Routing;
using LispMobility.Xtr.Routing;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace LispMobility.Agent.Lab;

/// <summary>One check of the lab and whether it held.</summary>
internal sealed record LabCheck(string What, bool Passed, string Detail);

/// <summary>
/// <c>lispmobility lab</c>: starts the embedded mapping system and three sites on loopback, moves a VM
/// (vMotion-style) through the real watcher → detector → coordinator → xTR path, moves it home, fails DC1
/// over to DC2, and narrates each step with its timing. Leaves nothing behind. The control plane only: it says so, and
/// where the data plane is shown.
/// </summary>
internal sealed class LabScenario(TextWriter output, ILoggerFactory? loggers = null)
{
    /// <summary>
    /// Why no packet crosses this lab, and where one does: one process on loopback has no second host to route to, and
    /// the data plane needs a TUN device and routes in namespaces of its own (root).
    /// </summary>
    public const string DataPlaneNote =
        "control plane only: no data plane here (one process on loopback, host routes kept in memory, no packet is encapsulated). " +
        "To see traffic follow the VM, as root: scripts/netns-lab.sh up; ip netns exec lml-bh ping 172.16.4.10 (or ping -6 2001:db8:4::10); " +
        "scripts/netns-lab.sh move dc2 (the pings go on, through LISP to DC2)";

    private readonly ILoggerFactory _loggers = loggers ?? NullLoggerFactory.Instance;
    private readonly Stopwatch _clock = new();
    private readonly List<LabCheck> _checks = [];
    private readonly object _writeGate = new();

    public IReadOnlyList<LabCheck> Checks => _checks;

    public async Task<bool> RunAsync(CancellationToken cancellationToken)
    {
        var database = Path.Combine(Path.GetTempPath(), $"lispmobility-lab-{Environment.ProcessId}-{Guid.NewGuid():N}.db");
        var routes = new Dictionary<string, InMemoryRouteTable> { [LabTopology.Dc1] = new(), [LabTopology.Dc2] = new(), [LabTopology.Branch] = new() };
        MapServerService? mapServer = null;
        var xtrs = new Dictionary<string, XtrNode>();
        MobilityStore? store = null;
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        Task? pipeline = null;
        _clock.Start();
        try
        {
            Say("lab", DataPlaneNote);
            Say("lab", "starting the embedded Map-Server/Resolver on " + LabTopology.MapServer);
            var msOptions = LabTopology.MapServerOptions();
            var server = new MapServer(msOptions, logger: _loggers.CreateLogger<MapServer>());
            server.EventRaised += (_, e) => Narrate(e);
            mapServer = new MapServerService(server, msOptions, _loggers);
            await mapServer.StartAsync(stop.Token).ConfigureAwait(false);

            foreach (var site in new[] { LabTopology.Dc1, LabTopology.Dc2, LabTopology.Branch })
            {
                var node = new XtrNode(LabTopology.XtrOptions(site), routes[site], _loggers);
                node.EventRaised += (_, e) => Narrate(site, e);
                xtrs[site] = node;
                node.Start();
                Say(site, $"xTR up, RLOC {node.Rlocs[0].Address}, registering {string.Join(", ", LabTopology.XtrOptions(site).DatabaseMappings)}");
            }

            Check("every site's aggregate is registered", await WaitAsync(() => server.RegistrationCount >= 3, stop.Token).ConfigureAwait(false),
                string.Join(", ", server.ListRegistrations().Select(r => $"{r.Eid}@{r.Site}")));

            store = new MobilityStore(database);
            var coordinator = new MobilityCoordinator(LabTopology.MobilityOptions(database),
                new Dictionary<string, ITunnelRouter> { [LabTopology.Dc1] = xtrs[LabTopology.Dc1], [LabTopology.Dc2] = xtrs[LabTopology.Dc2] }, store);
            coordinator.Progress += (_, p) => Say(p.Failed ? "FAILED" : "saga", $"{p.Eid} {p.Step,-20} {p.Elapsed.TotalMilliseconds,7:0.0} ms  {p.Detail}");
            var detector = new MoveDetector(coordinator, TimeSpan.FromMilliseconds(500));
            var sites = new SiteMapOptions
            {
                HostsToSites = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase) { ["esx-dc1-01"] = LabTopology.Dc1, ["esx-dc2-01"] = LabTopology.Dc2 },
            };
            var inventory = new SimulatedInventoryWatcher(sites);
            var stream = new WorkloadEventStream();
            var detections = System.Threading.Channels.Channel.CreateUnbounded<Detection>();
            var watcherTask = inventory.RunAsync(stream, stop.Token);
            pipeline = Task.Run(async () =>
            {
                await foreach (var fact in stream.Reader.ReadAllAsync(stop.Token).ConfigureAwait(false))
                {
                    Say("watcher", $"{fact.Source}: {fact.Name} {fact.Change} on {fact.Host} (site {fact.Site}) {string.Join(",", fact.Addresses)}");
                    foreach (var d in detector.Observe(fact)) await detections.Writer.WriteAsync(d, stop.Token).ConfigureAwait(false);
                }
            }, stop.Token);

            var vms = new[] { ("web-01", "172.16.4.10"), ("web-02", "172.16.4.11"), ("web-03", "172.16.4.12") };
            var mac = 0x10;
            foreach (var (name, ip) in vms)
            {
                coordinator.Adopt(IPAddress.Parse(ip), LabTopology.Dc1);
                inventory.AddVm(name, "esx-dc1-01", [PhysicalAddress.Parse($"00-50-56-00-00-{mac++:X2}")], [IPAddress.Parse(ip)]);
            }

            // The three Discovered facts are noise: the VMs are home already.
            for (var i = 0; i < vms.Length; i++) await detections.Reader.ReadAsync(stop.Token).ConfigureAwait(false);

            var web01 = IPAddress.Parse("172.16.4.10");
            var branch = xtrs[LabTopology.Branch];
            var before = await branch.ResolveAsync(web01, cancellationToken: stop.Token).ConfigureAwait(false);
            Check("branch ITR caches web-01 at DC1 before the move", before.Locators.Any(l => l.Address.ToString() == "127.77.1.1"), $"{before.Eid} -> {Rlocs(before.Locators)}");

            var intent = MobilityCoordinator.GatewayIntentFor(coordinator.Ranges[0])!;
            Say("gateway", $"plan for every site of {LabTopology.Range}: SVI {intent.InterfaceName} vlan {intent.Vlan}, HSRPv{intent.FhrpVersion} group {intent.Group}, " +
                $"VIP {intent.VirtualIp}, vMAC {VirtualMac.ToCiscoNotation(intent.VirtualMac)}, proxy-ARP {(intent.ProxyArp ? "on" : "off")} (no switch in the lab: plan only)");

            Say("lab", "--- vMotion web-01: esx-dc1-01 (dc1) -> esx-dc2-01 (dc2) ---");
            var moveStart = _clock.Elapsed;
            inventory.Migrate("web-01", "esx-dc2-01");
            var move = await NextMoveAsync(detections, stop.Token).ConfigureAwait(false);
            Check("move of web-01 to DC2 converged", move.Converged, move.Error ?? $"{move.Total.TotalMilliseconds:0.0} ms, steps: {string.Join(", ", move.Steps.Select(s => $"{s.Step} {s.Elapsed.TotalMilliseconds:0.0} ms"))}");
            // The route is programmed through the xTR's route queue, a moment after the host turns away.
            var away = await WaitAsync(() => xtrs[LabTopology.Dc1].HostOf(web01)?.State == HostState.Away && routes[LabTopology.Dc1].Get(web01)?.Kind == HostRouteKind.Blackhole, stop.Token).ConfigureAwait(false);
            Check("DC1 holds web-01 away with a blackhole /32", away,
                $"state {xtrs[LabTopology.Dc1].HostOf(web01)?.State}, route {routes[LabTopology.Dc1].Get(web01)?.Kind.ToString() ?? "none"}");
            var refreshed = await WaitAsync(() => branch.LookupMapCache(web01) is { } e && e.Eid.IsHost && Rlocs(e.Locators) == "127.77.2.1", stop.Token).ConfigureAwait(false);
            Check("branch map-cache refreshed to DC2 by SMR", refreshed, $"{branch.LookupMapCache(web01)?.Eid} -> {Rlocs(branch.LookupMapCache(web01)?.Locators ?? [])} at +{(_clock.Elapsed - moveStart).TotalMilliseconds:0.0} ms");
            var audit = store.QueryAudit(new AuditQuery(Eid: "172.16.4.10"));
            Check("the move is in the audit history", audit.Any(a => a.Kind == "move" && a.Outcome == "converged"), $"{audit.Count} audit rows for 172.16.4.10");

            Say("lab", "--- vMotion web-01 back home: esx-dc2-01 -> esx-dc1-01 ---");
            await Task.Delay(TimeSpan.FromMilliseconds(600), stop.Token).ConfigureAwait(false); // past the hold-down
            inventory.Migrate("web-01", "esx-dc1-01");
            var home = await NextMoveAsync(detections, stop.Token).ConfigureAwait(false);
            Check("move home converged (/32 withdrawn)", home.Converged && server.ListRegistrations().All(r => !r.Eid.IsHost || r.Eid.Address.ToIPAddress().ToString() != "172.16.4.10"),
                home.Error ?? $"{home.Total.TotalMilliseconds:0.0} ms");
            var aggregate = await WaitAsync(() => branch.LookupMapCache(web01) is { } e && !e.Eid.IsHost && Rlocs(e.Locators) == "127.77.1.1", stop.Token).ConfigureAwait(false);
            Check("branch map-cache back on DC1's aggregate", aggregate, $"{branch.LookupMapCache(web01)?.Eid} -> {Rlocs(branch.LookupMapCache(web01)?.Locators ?? [])}");
            var dc2Clean = await WaitAsync(() => xtrs[LabTopology.Dc2].HostOf(web01)?.State is null && routes[LabTopology.Dc2].Get(web01) is null, stop.Token).ConfigureAwait(false);
            Check("DC2 keeps no blackhole once the /32 is withdrawn", dc2Clean, $"state {xtrs[LabTopology.Dc2].HostOf(web01)?.State.ToString() ?? "none"}, route {routes[LabTopology.Dc2].Get(web01)?.Kind.ToString() ?? "none"}");

            Say("lab", "--- DR: fail DC1 over to DC2 without renumbering ---");
            var report = await coordinator.FailoverAsync(LabTopology.Dc1, LabTopology.Dc2, progress: new Progress<FailoverProgress>(p => Say("dr", $"{p.Converged + p.Failed}/{p.Total} done, {p.Failed} failed")), cancellationToken: stop.Token).ConfigureAwait(false);
            Check("DR failover converged and verified by lookup", report.Converged && report.Verified.Count == vms.Length,
                $"{report.Verified.Count}/{vms.Length} verified in {report.Elapsed.TotalMilliseconds:0.0} ms{(report.NotConverged.Count > 0 ? "; " + string.Join("; ", report.NotConverged.Select(n => $"{n.Eid}: {n.Reason}")) : "")}");

            Say("audit", "history of web-01 (lispmobility moves --eid 172.16.4.10):");
            foreach (var a in store.QueryAudit(new AuditQuery(Eid: "172.16.4.10")))
            {
                Say("audit", $"  {a.Time:HH:mm:ss.fff} {a.Kind,-20} {a.Outcome,-10} {a.FromSite}->{a.ToSite} {(a.DurationMs is { } ms ? ms.ToString("0.0", CultureInfo.InvariantCulture) + " ms " : "")}{a.Detail}");
            }

            await stop.CancelAsync().ConfigureAwait(false);
            await Task.WhenAll(watcherTask, pipeline.ContinueWith(_ => { }, TaskScheduler.Default)).ConfigureAwait(false);
        }
        catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            Check("lab ran to the end", false, e.Message);
        }
        finally
        {
            await stop.CancelAsync().ConfigureAwait(false);
            foreach (var x in xtrs.Values) await x.DisposeAsync().ConfigureAwait(false);
            if (mapServer is not null) await mapServer.DisposeAsync().ConfigureAwait(false);
            store?.Dispose();
            foreach (var f in new[] { database, database + "-wal", database + "-shm" }) File.Delete(f);
        }

        var passed = _checks.All(c => c.Passed);
        output.WriteLine();
        output.WriteLine(passed ? $"lab: every step converged ({_checks.Count} checks, {_clock.Elapsed.TotalSeconds:0.00} s)" : $"lab: {_checks.Count(c => !c.Passed)} of {_checks.Count} checks failed");
        output.WriteLine("lab: " + DataPlaneNote);
        return passed;
    }

    private static async Task<MoveOutcome> NextMoveAsync(System.Threading.Channels.Channel<Detection> detections, CancellationToken ct)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(TimeSpan.FromSeconds(30));
        while (true)
        {
            var d = await detections.Reader.ReadAsync(timeout.Token).ConfigureAwait(false);
            if (d.Kind == DetectionKind.Move && d.Move is not null) return await d.Move.WaitAsync(timeout.Token).ConfigureAwait(false);
        }
    }

    private static async Task<bool> WaitAsync(Func<bool> condition, CancellationToken ct)
    {
        var deadline = Stopwatch.StartNew();
        while (deadline.Elapsed < TimeSpan.FromSeconds(10))
        {
            if (condition()) return true;
            await Task.Delay(5, ct).ConfigureAwait(false);
        }

        return condition();
    }

    private static string Rlocs(IEnumerable<Lisp.Records.Locator> locators) => string.Join(",", locators.Select(l => l.Address));

    private void Check(string what, bool passed, string detail)
    {
        _checks.Add(new LabCheck(what, passed, detail));
        Say(passed ? "ok" : "FAILED", $"{what}: {detail}");
    }

    private void Narrate(MapServerEvent e)
    {
        switch (e)
        {
            case EidMoved m: Say("map-server", $"{m.Eid} moved {m.FromSite} -> {m.ToSite}; Map-Notify to {string.Join(", ", m.NotifiedRegistrants)}"); break;
            case MoveNotifyAcknowledged a: Say("map-server", $"{a.Eid}: Map-Notify-Ack from {a.Registrant}"); break;
            case SmrSent s: Say("map-server", $"SMR to ITR {s.Itr} for {s.Eid}"); break;
            case EidUnregistered u: Say("map-server", $"{u.Eid} {(u.Expired ? "expired" : "withdrawn")} ({u.Site})"); break;
            case EidRegistered r when r.Eid.IsHost: Say("map-server", $"{r.Eid} registered by {r.Site}"); break;
        }
    }

    private void Narrate(string site, XtrEvent e)
    {
        switch (e)
        {
            case HostAway a: Say(site, $"{a.Eid} is away (now at {Rlocs(a.NewRlocs)}): blackhole /32 queued, Map-Notify-Ack sent"); break;
            case HostAwayCleared c: Say(site, $"{c.Eid} is registered nowhere any more: blackhole /32 removed"); break;
            case MapCacheUpdated u when site == LabTopology.Branch: Say(site, $"map-cache {u.Eid} -> {(u.Rlocs.Count == 0 ? "negative" : Rlocs(u.Rlocs))}{(u.SmrInvoked ? " (SMR-invoked)" : "")}"); break;
            case SmrReceived r: Say(site, $"SMR received for {r.Eid} from {r.From}"); break;
            case SmrSentToItr s: Say(site, $"SMR sent to {s.Itr} for {s.Eid}"); break;
        }
    }

    private void Say(string who, string what)
    {
        lock (_writeGate) { output.WriteLine($"[{_clock.Elapsed.TotalMilliseconds,9:0.0} ms] {who,-10} {what}"); }
    }
}
