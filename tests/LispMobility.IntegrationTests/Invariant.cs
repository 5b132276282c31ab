using System.Diagnostics;
using LispMobility.IntegrationTests.Lab;

namespace LispMobility.IntegrationTests;

/// <summary>
/// Issue 16's invariant, checked all at once against the VM's real place (the lab's inventory: at which site the VM's
/// port is up): the mapping system (a lookup through the Map-Resolver and the Map-Server's registrations), the routes at
/// both sites, and a ping from the branch host through the data plane.
/// </summary>
internal static class Invariant
{
    public const string Vm = "172.16.4.10";

    /// <summary>Generous: a restarted agent, a reconciliation interval and a saga under a loaded 2-core machine.</summary>
    public static readonly TimeSpan Deadline = TimeSpan.FromSeconds(150);

    /// <summary>Polls until every view agrees with where the VM is; returns how long that took, fails with the last disagreement.</summary>
    public static async Task<TimeSpan> HoldsAsync(NetnsLab lab)
    {
        var watch = Stopwatch.StartNew();
        var site = await lab.VmSiteAsync().ConfigureAwait(false);
        string? violation = "not checked";
        while (watch.Elapsed < Deadline)
        {
            violation = await ViolationAsync(lab, site).ConfigureAwait(false);
            if (violation is null)
            {
                lab.Log($"invariant holds (VM at {site}) after {watch.Elapsed.TotalSeconds:0.0} s");
                return watch.Elapsed;
            }

            await Task.Delay(500).ConfigureAwait(false);
        }

        throw new TimeoutException($"the invariant does not hold {Deadline.TotalSeconds} s on (VM at {site}): {violation}\n"
            + string.Join("\n", NetnsLab.AgentNodes.Select(n => $"--- {n} ---\n{lab.LogTail(n)}")));
    }

    /// <summary>The first view that disagrees with the VM being at <paramref name="site"/>; null when all agree.</summary>
    public static async Task<string?> ViolationAsync(NetnsLab lab, string site)
    {
        var other = site == "dc1" ? "dc2" : "dc1";
        var here = await lab.RoutesAsync(site).ConfigureAwait(false);
        if (here.Contains($"blackhole {Vm} ", StringComparison.Ordinal)) return $"{site}, where the VM is, blackholes it: {here.Trim()}";
        var there = await lab.RoutesAsync(other).ConfigureAwait(false);
        if (site == "dc2" && !there.Contains($"blackhole {Vm} ", StringComparison.Ordinal)) return $"dc1, which the VM left, has no away route: {there.Trim()}";
        if (site == "dc1" && there.Contains($"{Vm} ", StringComparison.Ordinal)) return $"dc2, which the VM left, still routes it: {there.Trim()}";

        var registrations = await lab.ApiAsync("ms", "/registrations").ConfigureAwait(false);
        if (registrations is null) return "the Map-Server does not answer";
        if (site == "dc2" && !Converged.HostRegisteredBy(registrations, Vm, "dc2")) return $"the Map-Server does not hold {Vm}/32 from dc2";
        if (site == "dc1" && Converged.HostRegistered(registrations, Vm)) return $"the Map-Server still holds a {Vm}/32";

        var lookup = await lab.CliAsync("br", "lookup", Vm, "--json").ConfigureAwait(false);
        if (lookup.ExitCode != 0) return $"lookup through the Map-Resolver failed: {lookup}";
        if (!lookup.Output.Contains(NetnsLab.Rloc[site], StringComparison.Ordinal) || lookup.Output.Contains(NetnsLab.Rloc[other], StringComparison.Ordinal))
        {
            return $"the Map-Resolver does not map {Vm} to {site} alone: {lookup.Output.Trim()}";
        }

        var ping = await NetnsLab.RunAsync("ip", ["netns", "exec", lab.Ns("bh"), "ping", "-n", "-c", "1", "-W", "1", Vm], TimeSpan.FromSeconds(10)).ConfigureAwait(false);
        return ping.ExitCode == 0 ? null : "the branch host gets no ping reply from the VM";
    }
}
