using System.Diagnostics;
using System.Net;
using System.Net.NetworkInformation;
using LispMobility.TestSupport.Vcsim;

namespace LispMobility.Watchers.Tests.VCenter;

/// <summary>The watcher against a live simulator: vMotion across sites, DR power-on, a session revoked mid-run.</summary>
public sealed class VCenterWatcherTests(VcsimFixture vcsim) : IClassFixture<VcsimFixture>
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(2);

    [Fact]
    public async Task Vmotion_to_a_host_of_another_site_is_reported_with_host_site_and_guest_ips_within_2s()
    {
        await vcsim.RunAsync("set-ip", "DC0_C0_RP0_VM0", "10.0.0.42/24", "2001:db8:42::42/64");
        await using var run = new WatcherRun(vcsim).Start();
        var discovered = await run.NextAsync(f => f.Name == "DC0_C0_RP0_VM0", TimeSpan.FromSeconds(15));
        Assert.Equal((WorkloadChange.Discovered, "DC0_C0_H1", "paris"), (discovered.Change, discovered.Host, discovered.Site));
        await run.WaitForLogAsync(1020, TimeSpan.FromSeconds(10)); // the change feed is open

        var clock = Stopwatch.StartNew();
        await vcsim.RunAsync("migrate", "DC0_C0_RP0_VM0", VcsimFixture.StandaloneHost);
        var moved = await run.NextAsync(f => f.Name == "DC0_C0_RP0_VM0", Deadline + TimeSpan.FromSeconds(1));
        var latency = clock.Elapsed;

        Assert.Equal(WorkloadChange.Migrated, moved.Change);
        Assert.Equal(("vm-63", "DC0_H0", "dr", "DC0_C0_H1", "paris", "vcenter"),
            (moved.WorkloadId, moved.Host, moved.Site, moved.PreviousHost, moved.PreviousSite, moved.Source));
        Assert.Equal([IPAddress.Parse("10.0.0.42"), IPAddress.Parse("2001:db8:42::42")], moved.Addresses);
        Assert.Equal([PhysicalAddress.Parse("00-0C-29-33-34-38")], moved.Macs);
        Assert.True(latency <= Deadline, $"reported {latency.TotalMilliseconds:0} ms after the migration command started");
        Assert.DoesNotContain(vcsim.Password, run.Log.All, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Power_on_at_the_dr_site_names_where_the_vm_ran_before()
    {
        await using var run = new WatcherRun(vcsim).Start();
        await run.NextAsync(f => f.Name == "DC0_C0_RP0_VM1", TimeSpan.FromSeconds(15));
        await run.WaitForLogAsync(1020, TimeSpan.FromSeconds(10));

        await vcsim.RunAsync("power", "DC0_C0_RP0_VM1", "off");
        var off = await run.NextAsync(f => f.Name == "DC0_C0_RP0_VM1", Deadline);
        Assert.Equal(WorkloadChange.PoweredOff, off.Change);
        await vcsim.RunAsync("migrate", "DC0_C0_RP0_VM1", VcsimFixture.StandaloneHost); // a cold relocation: no fact
        await vcsim.RunAsync("power", "DC0_C0_RP0_VM1", "on");
        var on = await run.NextAsync(f => f.Name == "DC0_C0_RP0_VM1", Deadline);

        Assert.Equal((WorkloadChange.PoweredOn, "DC0_H0", "dr", "DC0_C0_H0", "paris"), (on.Change, on.Host, on.Site, on.PreviousHost, on.PreviousSite));
        Assert.NotEmpty(on.Macs);
    }

    [Fact]
    public async Task A_session_revoked_mid_run_is_replaced_by_one_login_and_the_call_replayed()
    {
        await using var run = new WatcherRun(vcsim);
        var api = (LispMobility.Watchers.VCenter.VsphereRestClient)run.Watcher.Api;
        Assert.NotEmpty(await api.ListHostsAsync(CancellationToken.None));
        var stale = api.SessionToken!;
        using (var http = new HttpClient(LispMobility.Watchers.VCenter.PinnedCertificate.CreateHandler(vcsim.CertificateThumbprint)) { BaseAddress = vcsim.BaseUrl })
        using (var revoke = new HttpRequestMessage(HttpMethod.Delete, "api/session") { Headers = { { "vmware-api-session-id", stale } } })
        {
            Assert.Equal(HttpStatusCode.NoContent, (await http.SendAsync(revoke)).StatusCode);
        }

        var vms = await api.ListVmsOnHostAsync("host-21", CancellationToken.None);

        Assert.NotEqual(stale, api.SessionToken);
        Assert.Single(run.Log.Lines, l => l.Id.Id == 1001);
        Assert.Contains(vms, v => v.Vm == "vm-57");
        Assert.DoesNotContain(stale, run.Log.All, StringComparison.Ordinal);
    }
}
