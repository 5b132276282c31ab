using System.Net;
using System.Net.Sockets;
using System.Text;
using LispMobility.Agent.Cli;
using LispMobility.Agent.Tests.Hosting;
using LispMobility.Lisp.Addressing;
using LispMobility.Lisp.Messages;
using LispMobility.Lisp.Records;

namespace LispMobility.Agent.Tests.Cli;

/// <summary>
/// RLOC reachability as an operator sees it: the <c>rlocs</c> verb and the <c>/metrics</c> families, against a live agent
/// whose map-cache names a remote locator played by the test (it registers dc2's EID there and answers probes, then stops).
/// </summary>
public sealed class RlocStatusTests : IAsyncLifetime
{
    private const int ApiPort = 4392; // one port per test class: classes run in parallel
    private const string Remote = "127.91.9.2";
    private InProcessAgent _agent = null!;
    private readonly UdpClient _remote = new(new IPEndPoint(IPAddress.Parse(Remote), 4342));
    private readonly CancellationTokenSource _stop = new();
    private volatile bool _answering = true;
    private Task _responder = Task.CompletedTask;

    public async Task InitializeAsync()
    {
        _agent = await InProcessAgent.StartAsync("rlocs", p => $$"""
            {
              "MapServer": { "Listen": ["127.91.9.9:4342"], "Sites": [
                { "Name": "dc1", "EidPrefixes": [ { "Prefix": "172.16.5.0/24" } ], "Keys": [ { "KeyId": 1, "Key": "k1" } ] },
                { "Name": "dc2", "EidPrefixes": [ { "Prefix": "172.16.4.0/24" } ], "Keys": [ { "KeyId": 1, "Key": "k2" } ] } ] },
              "Xtr": { "Site": "dc1", "Listen": ["127.91.9.1:4342"], "Rlocs": [ { "Address": "127.91.9.1", "Priority": 1, "Weight": 100 } ],
                "MapServers": [ { "Address": "127.91.9.9:4342", "KeyId": 1, "Key": "k1" } ], "MapResolvers": ["127.91.9.9:4342"],
                "DatabaseMappings": ["172.16.5.0/24"], "RlocProbing": true, "RlocProbeInterval": "00:00:00.2", "RlocProbeMissLimit": 2 },
              "Mobility": { "Database": "{{p.Database}}" },
              "Agent": { "RouteTable": "memory" },
              "ManagementApi": { "BindAddress": "127.0.0.1", "Port": {{ApiPort}}, "TokenFile": "{{p.TokenFile}}" },
              "Log": { "File": false, "Console": false, "Journald": "false" }
            }
            """);
        _responder = Task.Run(AnswerProbesAsync);
        // dc2's EID at the remote locator, answered by the Map-Server (proxy reply): the test plays dc2's ETR only for probes.
        var register = new MapRegister
        {
            Nonce = 7, KeyId = 1, ProxyMapReply = true,
            Records = [new MappingRecord { Eid = EidPrefix.Parse("172.16.4.0/24"), Ttl = 1440, Authoritative = true, Locators = [new Locator(LispAddress.Parse(Remote))] }],
        }.ToSignedArray(Encoding.UTF8.GetBytes("k2"));
        await _remote.SendAsync(register, new IPEndPoint(IPAddress.Parse("127.91.9.9"), 4342));
        await Eventually(async () => (await _agent.Api.GetAsync(new Uri("/api/lookup?eid=172.16.4.10", UriKind.Relative))).IsSuccessStatusCode &&
                                     (await _agent.Api.GetStringAsync(new Uri("/api/map-cache", UriKind.Relative))).Contains(Remote, StringComparison.Ordinal),
            "the map-cache names the remote locator");
    }

    public async Task DisposeAsync()
    {
        await _stop.CancelAsync();
        _remote.Dispose();
        await _responder.ContinueWith(static _ => { }, TaskScheduler.Default);
        await _agent.DisposeAsync();
        _stop.Dispose();
    }

    private async Task AnswerProbesAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            UdpReceiveResult received;
            try
            {
                received = await _remote.ReceiveAsync(_stop.Token);
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException or SocketException)
            {
                return;
            }

            if (!_answering || !MapRequest.TryRead(received.Buffer, out var request, out _) || !request.Probe) continue;
            await _remote.SendAsync(new MapReply { ProbeReply = true, Nonce = request.Nonce }.ToArray(), received.RemoteEndPoint);
        }
    }

    private static async Task Eventually(Func<Task<bool>> condition, string what)
    {
        var deadline = DateTime.UtcNow.AddSeconds(15);
        while (!await condition())
        {
            Assert.True(DateTime.UtcNow < deadline, what);
            await Task.Delay(50);
        }
    }

    private async Task<string[]> Show()
    {
        var output = new StringWriter();
        Assert.Equal(0, await ClientCommands.ShowAsync(_agent.Config, "/api/rlocs", json: false, ShowViews.Rlocs, output, CancellationToken.None));
        return output.ToString().Split(Environment.NewLine, StringSplitOptions.RemoveEmptyEntries);
    }

    private async Task<Dictionary<string, PrometheusTextParser.Family>> Metrics() =>
        PrometheusTextParser.Parse(await _agent.Api.GetStringAsync(new Uri("/metrics", UriKind.Relative)));

    private static double Value(Dictionary<string, PrometheusTextParser.Family> families, string name, string? result = null) =>
        families[name].Samples.Single(s => s.Labels["rloc"] == Remote && (result is null || s.Labels["result"] == result)).Value;

    [Fact]
    public async Task A_remote_locator_that_answers_probes_is_up_with_its_round_trip_and_goes_down_when_it_stops()
    {
        await Eventually(async () => (await Show()).Any(l => l.StartsWith(Remote, StringComparison.Ordinal) && l.Contains(" ms", StringComparison.Ordinal)), "a probe answered");
        var lines = await Show();
        Assert.Equal("RLOC probing every 0.2 s, down after 2 missed; 1 remote locator(s)", lines[0]);
        Assert.Matches(@"^RLOC +STATE +SINCE +PROBES SENT +ANSWERED +MISSED +RTT +REASON$", lines[1]);
        Assert.Matches(@"^127\.91\.9\.2 +up +00:00:\d\d +[1-9]\d* +[1-9]\d* +\d+ +\d+\.\d ms$", lines[2]);

        var up = await Metrics();
        Assert.Equal(1, Value(up, "lispmobility_rloc_up"));
        Assert.Equal("counter", up["lispmobility_rloc_probes_total"].Type);
        Assert.True(Value(up, "lispmobility_rloc_probes_total", "answered") >= 1);
        Assert.True(Value(up, "lispmobility_rloc_probes_total", "sent") >= Value(up, "lispmobility_rloc_probes_total", "answered"));
        Assert.InRange(Value(up, "lispmobility_rloc_probe_rtt_seconds"), 0, 1);

        _answering = false;
        await Eventually(async () => (await Show()).Any(l => l.StartsWith(Remote, StringComparison.Ordinal) && l.Contains(" down ", StringComparison.Ordinal)), "down after missed probes");
        Assert.Matches(@"^127\.91\.9\.2 +down +00:00:\d\d +\d+ +\d+ +\d+ +\d+\.\d ms +2 probes unanswered$", (await Show())[2]);
        var down = await Metrics();
        Assert.Equal(0, Value(down, "lispmobility_rloc_up"));
        Assert.True(Value(down, "lispmobility_rloc_probes_total", "missed") >= 2);
        Assert.Contains("127.91.9.2 1/100 down", string.Join('\n', await ShowMapCache()), StringComparison.Ordinal);
    }

    private async Task<string[]> ShowMapCache()
    {
        var output = new StringWriter();
        Assert.Equal(0, await ClientCommands.ShowAsync(_agent.Config, "/api/map-cache", json: false, ShowViews.MapCache, output, CancellationToken.None));
        return output.ToString().Split(Environment.NewLine, StringSplitOptions.RemoveEmptyEntries);
    }
}
