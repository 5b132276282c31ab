using System.Globalization;
using System.Text.Json.Nodes;
using LispMobility.IntegrationTests.Lab;
using Xunit.Abstractions;

namespace LispMobility.IntegrationTests;

/// <summary>
/// The seed, sizes and timers of a chaos test. The seed is printed first, so a failing run is replayed with
/// LISPMOBILITY_CHAOS_SEED; the defaults keep the test short, the environment makes it the issue's full size.
/// </summary>
internal sealed class Chaos
{
    private readonly ITestOutputHelper _output;
    private readonly string _name;
    private readonly List<TimeSpan> _convergence = [];

    public Chaos(ITestOutputHelper output, string name)
    {
        _output = output;
        _name = name;
        Seed = Environment.GetEnvironmentVariable("LISPMOBILITY_CHAOS_SEED") is { Length: > 0 } s
            ? int.Parse(s, CultureInfo.InvariantCulture)
            : Random.Shared.Next(1, int.MaxValue);
        Random = new Random(Seed);
        output.WriteLine($"{name}: seed {Seed} (replay with LISPMOBILITY_CHAOS_SEED={Seed})");
    }

    public int Seed { get; }

    public Random Random { get; }

    /// <summary>Moves made, for the summary.</summary>
    public int MovesTried { get; set; }

    /// <summary>
    /// The lab's registration interval is 3 s where production's default is 60 s; the reconciler's is scaled alike (5 s for
    /// 60 s). Same code, shorter timers.
    /// </summary>
    public static readonly TimeSpan ReconcileInterval = TimeSpan.FromSeconds(5);

    /// <summary>A whole number from the environment, or the default.</summary>
    public static int Setting(string variable, int fallback) =>
        Environment.GetEnvironmentVariable(variable) is { Length: > 0 } v ? int.Parse(v, CultureInfo.InvariantCulture) : fallback;

    /// <summary>The lab with the reconciler's interval scaled like the registration interval.</summary>
    public static Task<NetnsLab> StartLabAsync(ITestOutputHelper output, Action<string, JsonObject>? more = null) =>
        NetnsLab.StartAsync(output, (node, config) =>
        {
            ((JsonObject)config["Mobility"]!)["ReconcileInterval"] = ReconcileInterval.ToString("c", CultureInfo.InvariantCulture);
            more?.Invoke(node, config);
        });

    /// <summary>A random span in [min, max).</summary>
    public TimeSpan Between(TimeSpan min, TimeSpan max) => min + (max - min) * Random.NextDouble();

    /// <summary>Waits for the invariant after a fault ended and records how long it took.</summary>
    public async Task ConvergedAsync(NetnsLab lab, string fault)
    {
        var took = await Invariant.HoldsAsync(lab).ConfigureAwait(false);
        _convergence.Add(took);
        _output.WriteLine($"{_name}: {fault}: converged {took.TotalSeconds:0.0} s after the fault's end");
    }

    /// <summary>The figures of docs/benchmarks.md: moves tried, runs converged, lost, fault end → convergence p50 and max.</summary>
    public void Summary()
    {
        var sorted = _convergence.Order().ToList();
        var p50 = sorted.Count == 0 ? TimeSpan.Zero : sorted[(sorted.Count - 1) / 2];
        var max = sorted.Count == 0 ? TimeSpan.Zero : sorted[^1];
        _output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{_name}: seed {Seed}; moves tried {MovesTried}; runs converged {sorted.Count}; lost 0; fault end -> convergence p50 {p50.TotalSeconds:0.0} s, max {max.TotalSeconds:0.0} s; loadavg {File.ReadAllText("/proc/loadavg").Trim()}"));
    }
}
