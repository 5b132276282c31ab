using LispMobility.Agent.Hosting;
using LispMobility.Agent.Security;
using LispMobility.Agent.Service;
using Microsoft.Extensions.Configuration;

namespace LispMobility.Agent.Tests.Cli;

/// <summary>
/// `lispmobility run` in this process on a configuration the test writes (its management API token made here), started
/// and waited for until /healthz answers; disposing stops it and checks it exited 0.
/// </summary>
internal sealed class InProcessAgent : IAsyncDisposable
{
    private readonly CancellationTokenSource _stop = new();
    private readonly string _dir;
    private Task<int>? _run;

    private InProcessAgent(string dir) => _dir = dir;

    /// <summary>The configuration file the agent runs on.</summary>
    public FileInfo Config { get; private set; } = null!;

    /// <summary>The management API, with the token.</summary>
    public HttpClient Api { get; private set; } = null!;

    /// <summary>
    /// Starts an agent on the configuration <paramref name="config"/> returns for its folder, database path and token file
    /// (paths with forward slashes, ready for JSON), reading <paramref name="time"/> for its clock (the system's by default).
    /// </summary>
    public static async Task<InProcessAgent> StartAsync(string name, Func<(string Database, string TokenFile), string> config, TimeProvider? time = null)
    {
        var agent = new InProcessAgent(Directory.CreateTempSubdirectory($"lispmobility-{name}-").FullName);
        var token = Path.Combine(agent._dir, "token");
        ApiToken.Create(token);
        var file = Path.Combine(agent._dir, "agent.json");
        static string Json(string path) => path.Replace("\\", "/", StringComparison.Ordinal);
        await File.WriteAllTextAsync(file, config((Json(Path.Combine(agent._dir, "agent.db")), Json(token))));
        agent.Config = new FileInfo(file);
        agent._run = RunCommand.RunAsync(agent.Config, time, agent._stop.Token);
        var options = ManagementApiOptions.FromConfiguration(new ConfigurationBuilder().AddJsonFile(file).Build(), out _)!;
        agent.Api = ManagementApi.CreateClient(options, ApiToken.Read(options.TokenFile));
        for (var i = 0; i < 200; i++)
        {
            if (agent._run.IsCompleted) Assert.Fail($"the agent exited with {await agent._run}");
            try
            {
                if ((await agent.Api.GetAsync(new Uri("/healthz", UriKind.Relative))).IsSuccessStatusCode) return agent;
            }
            catch (HttpRequestException)
            {
                // Not listening yet.
            }

            await Task.Delay(50);
        }

        Assert.Fail("the agent's management API never answered");
        return agent;
    }

    public async ValueTask DisposeAsync()
    {
        Api?.Dispose();
        await _stop.CancelAsync();
        if (_run is not null) Assert.Equal(0, await _run.WaitAsync(TimeSpan.FromSeconds(20)));
        _stop.Dispose();
        Directory.Delete(_dir, recursive: true);
    }
}
