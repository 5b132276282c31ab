using LispMobility.TestSupport.Vcsim;
using LispMobility.Watchers.VCenter;
using Microsoft.Extensions.Logging.Testing;

namespace LispMobility.Watchers.Tests.VCenter;

/// <summary>A vCenter watcher running against a fixture's simulator, with its facts and log lines at hand.</summary>
internal sealed class WatcherRun : IAsyncDisposable
{
    public static readonly SiteMapOptions Sites = new()
    {
        HostsToSites = new Dictionary<string, string> { [VcsimFixture.StandaloneHost] = "dr" },
        ClustersToSites = new Dictionary<string, string> { [VcsimFixture.Cluster] = "paris" },
    };

    private readonly string _secretFile = Path.GetTempFileName();
    private readonly CancellationTokenSource _stop = new();

    public WatcherRun(VcsimFixture vcsim, string? password = null, string? thumbprint = "fixture", TimeSpan? reconciliation = null)
    {
        File.WriteAllText(_secretFile, (password ?? vcsim.Password) + "\n");
        Options = new VCenterOptions
        {
            Url = vcsim.BaseUrl,
            UserName = vcsim.UserName,
            PasswordEnvironmentVariable = "",
            PasswordFile = _secretFile,
            CertificateThumbprint = thumbprint == "fixture" ? vcsim.CertificateThumbprint : thumbprint,
            FeedWait = TimeSpan.FromSeconds(1),
            RequestTimeout = TimeSpan.FromSeconds(3),
            ReconciliationInterval = reconciliation ?? TimeSpan.FromMinutes(5),
            MaxReconnectDelay = TimeSpan.FromMilliseconds(500),
        };
        Watcher = new VCenterWatcher(Options, Sites, Log);
    }

    public VCenterOptions Options { get; }
    public FakeLogger<VCenterWatcher> Log { get; } = new();
    public VCenterWatcher Watcher { get; }
    public WorkloadEventStream Stream { get; } = new();
    public Task Running { get; private set; } = Task.CompletedTask;

    public WatcherRun Start()
    {
        Running = Watcher.RunAsync(Stream, _stop.Token);
        return this;
    }

    /// <summary>The next fact matching <paramref name="match"/> within <paramref name="within"/>; others are skipped.</summary>
    public async Task<WorkloadObserved> NextAsync(Func<WorkloadObserved, bool> match, TimeSpan within)
    {
        using var timeout = new CancellationTokenSource(within);
        try
        {
            while (true)
            {
                var fact = await Stream.Reader.ReadAsync(timeout.Token);
                if (match(fact)) return fact;
            }
        }
        catch (OperationCanceledException)
        {
            throw new TimeoutException($"no matching fact within {within.TotalSeconds} s; log:{Environment.NewLine}{Log.Text()}");
        }
    }

    public List<WorkloadObserved> Drain()
    {
        var facts = new List<WorkloadObserved>();
        while (Stream.Reader.TryRead(out var fact)) facts.Add(fact);
        return facts;
    }

    /// <summary>Waits until a log line with <paramref name="eventId"/> appears.</summary>
    public async Task WaitForLogAsync(int eventId, TimeSpan within)
    {
        var deadline = DateTime.UtcNow + within;
        while (!Log.Collector.GetSnapshot().Any(l => l.Id.Id == eventId))
        {
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"no log event {eventId} within {within.TotalSeconds} s; log:{Environment.NewLine}{Log.Text()}");
            await Task.Delay(50);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        await Running.WaitAsync(TimeSpan.FromSeconds(10));
        Watcher.Dispose();
        _stop.Dispose();
        File.Delete(_secretFile);
    }
}
