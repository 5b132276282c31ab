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
        await run.WaitForLogAsync(4020, TimeSpan.FromSeconds(10)); // the change feed is open

        // Timed from the migration's end (the client returns once vCenter completed the task), not from the client's start:
        // under load its own start and login took seconds on a CI machine, which says nothing of the watcher.
        await vcsim.RunAsync("migrate", "DC0_C0_RP0_VM0", VcsimFixture.StandaloneHost);
        var clock = Stopwatch.StartNew();
        var moved = await run.NextAsync(f => f.Name == "DC0_C0_RP0_VM0", Deadline + TimeSpan.FromSeconds(1));
        var latency = clock.Elapsed;

        Assert.Equal(WorkloadChange.Migrated, moved.Change);
        Assert.Equal(("vm-63", "DC0_H0", "dr", "DC0_C0_H1", "paris", "vcenter"),
            (moved.WorkloadId, moved.Host, moved.Site, moved.PreviousHost, moved.PreviousSite, moved.Source));
        Assert.Equal([IPAddress.Parse("10.0.0.42"), IPAddress.Parse("2001:db8:42::42")], moved.Addresses);
        Assert.Equal([PhysicalAddress.Parse("00-0C-29-33-34-38")], moved.Macs);
        Assert.True(latency <= Deadline, $"reported {latency.TotalMilliseconds:0} ms after vCenter completed the migration");
        Assert.DoesNotContain(vcsim.Password, run.Log.Text(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Power_on_at_the_dr_site_names_where_the_vm_ran_before()
    {
        await using var run = new WatcherRun(vcsim).Start();
        await run.NextAsync(f => f.Name == "DC0_C0_RP0_VM1", TimeSpan.FromSeconds(15));
        await run.WaitForLogAsync(4020, TimeSpan.FromSeconds(10));

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
        Assert.Single(run.Log.Collector.GetSnapshot(), l => l.Id.Id == 4001);
        Assert.Contains(vms, v => v.Vm == "vm-57");
        Assert.DoesNotContain(stale, run.Log.Text(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_feed_session_terminated_mid_run_is_replaced_and_the_next_vmotion_still_arrives_within_2s()
    {
        await using var run = new WatcherRun(vcsim).Start();
        await run.NextAsync(f => f.Name == "DC0_H0_VM1", TimeSpan.FromSeconds(15));
        await run.WaitForLogAsync(4020, TimeSpan.FromSeconds(10));
        var key = run.Watcher.FeedSessionKey;
        Assert.NotNull(key);

        await TerminateSoapSession(key);
        await run.WaitForLogAsync(4045, TimeSpan.FromSeconds(5));
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(5);
        while ((run.Watcher.FeedSessionKey is null || run.Watcher.FeedSessionKey == key) && DateTime.UtcNow < deadline) await Task.Delay(50);
        Assert.NotEqual(key, run.Watcher.FeedSessionKey);

        await vcsim.RunAsync("migrate", "DC0_H0_VM1", "DC0_C0_H2");
        var clock = Stopwatch.StartNew(); // from the migration's end, as above
        var moved = await run.NextAsync(f => f.Name == "DC0_H0_VM1", Deadline + TimeSpan.FromSeconds(1));
        Assert.Equal((WorkloadChange.Migrated, "DC0_C0_H2", "paris", "dr"), (moved.Change, moved.Host, moved.Site, moved.PreviousSite));
        Assert.True(clock.Elapsed <= Deadline, $"reported after {clock.Elapsed.TotalMilliseconds:0} ms");
        Assert.DoesNotContain(key, run.Log.Text(), StringComparison.Ordinal);
    }

    // An administrator's SessionManager.TerminateSession from a second SOAP session, as vCenter's session list does.
    private async Task TerminateSoapSession(string key)
    {
        using var http = new HttpClient(LispMobility.Watchers.VCenter.PinnedCertificate.CreateHandler(vcsim.CertificateThumbprint)) { BaseAddress = vcsim.BaseUrl };
        async Task<string> Call(string body, string? cookie)
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, "sdk")
            {
                Content = new StringContent($"<?xml version=\"1.0\"?><e:Envelope xmlns:e=\"http://schemas.xmlsoap.org/soap/envelope/\" xmlns=\"urn:vim25\"><e:Body>{body}</e:Body></e:Envelope>",
                    System.Text.Encoding.UTF8, "text/xml"),
            };
            if (cookie is not null) request.Headers.Add("Cookie", cookie);
            using var response = await http.SendAsync(request);
            var text = await response.Content.ReadAsStringAsync();
            Assert.DoesNotContain("Fault", text, StringComparison.Ordinal);
            return response.Headers.TryGetValues("Set-Cookie", out var cookies) ? cookies.First().Split(';')[0] : "";
        }
        var admin = await Call($"<Login><_this type=\"SessionManager\">SessionManager</_this><userName>{vcsim.UserName}</userName><password>{vcsim.Password}</password></Login>", null);
        await Call($"<TerminateSession><_this type=\"SessionManager\">SessionManager</_this><sessionId>{key}</sessionId></TerminateSession>", admin);
    }
}
