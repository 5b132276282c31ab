using System.Net;
using LispMobility.TestSupport.Vcsim;
using LispMobility.Watchers.VCenter;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;

namespace LispMobility.Watchers.Tests.VCenter;

/// <summary>
/// A vCenter older than 7.0 U2 has no <c>/api</c>: the client falls back to <c>/rest/com/vmware/cis/session</c> and the
/// <c>/rest</c> forms (bodies in <c>{"value": …}</c>, <c>filter.</c>-prefixed filters), all in the Refit client's session handler. The simulator serves both; an
/// older vCenter is made of it by answering 404 on <c>/api/session</c>, as such a vCenter does.
/// </summary>
public sealed class LegacyRestTests(VcsimFixture vcsim) : IClassFixture<VcsimFixture>
{
    [Fact]
    public async Task Without_api_the_client_logs_in_through_rest_and_reads_the_inventory_there()
    {
        var paths = new List<string>();
        await using var services = new ServiceCollection()
            .AddVsphereClients(new VsphereClientOptions(vcsim.BaseUrl, () => new VCenterCredentials(vcsim.UserName, vcsim.Password), NullLogger.Instance,
                TimeSpan.FromSeconds(5), () => new NoModernApi(PinnedCertificate.CreateHandler(vcsim.CertificateThumbprint), paths)))
            .BuildServiceProvider();
        var client = services.GetRequiredService<VsphereRestClient>();

        await client.LoginAsync(CancellationToken.None);
        var hosts = await client.ListHostsAsync(CancellationToken.None);
        var vms = await client.ListVmsOnHostAsync("host-21", CancellationToken.None);
        var vm = await client.GetVmAsync("vm-57", CancellationToken.None);

        Assert.True(client.UsesLegacyApi);
        Assert.Contains(hosts, h => h.Name == "DC0_H0");
        Assert.Contains(vms, v => v.Name == "DC0_H0_VM0");
        Assert.Equal("DC0_H0_VM0", vm?.Name);
        Assert.Contains(paths, p => p.StartsWith("/rest/com/vmware/cis/session", StringComparison.Ordinal));
        Assert.Contains(paths, p => p.StartsWith("/rest/vcenter/vm?filter.hosts=host-21", StringComparison.Ordinal));
        Assert.DoesNotContain(paths, p => p.StartsWith("/api/vcenter", StringComparison.Ordinal));
        await client.LogoutAsync(CancellationToken.None);
    }

    /// <summary>Answers 404 on /api (as a vCenter before 7.0 U2), passes everything else to the simulator.</summary>
    private sealed class NoModernApi(HttpMessageHandler inner, List<string> paths) : DelegatingHandler(inner)
    {
        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            var path = request.RequestUri!.PathAndQuery;
            lock (paths) { paths.Add(path); }
            return path.StartsWith("/api/", StringComparison.Ordinal)
                ? Task.FromResult(new HttpResponseMessage(HttpStatusCode.NotFound) { RequestMessage = request })
                : base.SendAsync(request, cancellationToken);
        }
    }
}
