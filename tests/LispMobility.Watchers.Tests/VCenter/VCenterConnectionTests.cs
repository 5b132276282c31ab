using System.Net;
using LispMobility.TestSupport.Vcsim;
using LispMobility.Watchers.VCenter;
using Microsoft.Extensions.Logging.Testing;

namespace LispMobility.Watchers.Tests.VCenter;

/// <summary>Credentials, TLS pinning and the typed REST client against a simulator that nothing mutates but these tests.</summary>
public sealed class VCenterConnectionTests(VcsimFixture vcsim) : IClassFixture<VcsimFixture>
{
    [Fact]
    public async Task Wrong_password_is_logged_once_without_the_secret_and_nothing_is_reported()
    {
        const string wrong = "not-the-password-1234";
        await using var run = new WatcherRun(vcsim, password: wrong).Start();
        await run.WaitForLogAsync(4044, TimeSpan.FromSeconds(10));
        await Task.Delay(1500); // several reconnection attempts
        Assert.False(run.Running.IsCompleted);
        Assert.Single(run.Log.Collector.GetSnapshot(), l => l.Id.Id == 4044);
        Assert.Contains("lisp-svc", run.Log.Text(), StringComparison.Ordinal);
        Assert.DoesNotContain(wrong, run.Log.Text(), StringComparison.Ordinal);
        Assert.Empty(run.Drain());
    }

    [Fact]
    public async Task Self_signed_certificate_is_refused_without_a_pin_and_with_a_wrong_pin()
    {
        await using (var unpinned = new WatcherRun(vcsim, thumbprint: null).Start())
        {
            await unpinned.WaitForLogAsync(4041, TimeSpan.FromSeconds(10));
            Assert.Contains($"pin its SHA-256 thumbprint {vcsim.CertificateThumbprint}", unpinned.Log.Text(), StringComparison.Ordinal);
            Assert.Empty(unpinned.Drain());
        }
        var wrongPin = new string('A', 64);
        await using var pinnedWrong = new WatcherRun(vcsim, thumbprint: wrongPin).Start();
        await pinnedWrong.WaitForLogAsync(4041, TimeSpan.FromSeconds(10));
        Assert.Contains($"is not the pinned {wrongPin}", pinnedWrong.Log.Text(), StringComparison.Ordinal);
        Assert.Empty(pinnedWrong.Drain());
    }

    [Fact]
    public async Task Typed_rest_client_reads_hosts_clusters_datacenters_vms_and_nics()
    {
        await using var run = new WatcherRun(vcsim);
        var api = run.Watcher.Api;
        var hosts = await api.ListHostsAsync(CancellationToken.None);
        Assert.Equal(["DC0_C0_H0", "DC0_C0_H1", "DC0_C0_H2", "DC0_H0"], hosts.Select(h => h.Name).Order(StringComparer.Ordinal));
        var cluster = Assert.Single(await api.ListClustersAsync(CancellationToken.None));
        Assert.Equal(3, (await api.ListHostsInClusterAsync(cluster.Cluster, CancellationToken.None)).Count);
        Assert.Equal("DC0", Assert.Single(await api.ListDatacentersAsync(CancellationToken.None)).Name);
        Assert.Equal(2, (await api.ListVmsInClusterAsync(cluster.Cluster, CancellationToken.None)).Count);
        var vm = await api.GetVmAsync("vm-57", CancellationToken.None);
        Assert.Equal("DC0_H0_VM0", vm?.Name);
        Assert.Contains(vm!.Nics!.Values, n => n.MacAddress is { Length: 17 });
        Assert.Null(await api.GetVmAsync("vm-9999", CancellationToken.None));
        Assert.Empty(await api.ListVmsOnHostAsync("host-9999", CancellationToken.None)); // a filter matching nothing, as on vCenter
        Assert.Contains(await api.ListVmsOnHostAsync("host-21", CancellationToken.None), v => v.Name == "DC0_H0_VM0");
    }

    [Fact]
    public void Credentials_come_from_the_environment_or_the_secret_file_and_never_show()
    {
        var file = Path.GetTempFileName();
        try
        {
            File.WriteAllText(file, "s3cret-from-file\n");
            var fromFile = VCenterCredentials.Resolve(new VCenterOptions { UserName = "u", PasswordEnvironmentVariable = "LISPMOBILITY_TEST_UNSET_" + Guid.NewGuid().ToString("N"), PasswordFile = file });
            Assert.Equal("s3cret-from-file", fromFile.Password);
            Assert.DoesNotContain("s3cret", fromFile.ToString(), StringComparison.Ordinal);
            var missing = Assert.Throws<InvalidOperationException>(() =>
                VCenterCredentials.Resolve(new VCenterOptions { UserName = "u", PasswordEnvironmentVariable = "LISPMOBILITY_TEST_UNSET_X" }));
            Assert.Contains("LISPMOBILITY_TEST_UNSET_X", missing.Message, StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Fact]
    public void Options_validation_names_every_bad_path()
    {
        var errors = new VCenterOptions { Url = new Uri("ftp://vc/"), CertificateThumbprint = "abc", FeedWait = TimeSpan.Zero }.Validate();
        Assert.Contains(errors, e => e.StartsWith("Watchers:VCenter:Url", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("Watchers:VCenter:UserName", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("Watchers:VCenter:CertificateThumbprint", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("Watchers:VCenter:FeedWait", StringComparison.Ordinal));
        Assert.Throws<ArgumentException>(() => new VCenterWatcher(new VCenterOptions { Url = new Uri("https://u:p@vc/"), UserName = "u" },
            WatcherRun.Sites, new FakeLogger<VCenterWatcher>()));
    }
}
