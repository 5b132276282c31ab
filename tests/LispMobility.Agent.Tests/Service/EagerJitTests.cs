using LispMobility.Agent.Service;

namespace LispMobility.Agent.Tests.Service;

/// <summary>The compilation of the agent's own code at start, after the move warm-up.</summary>
public sealed class EagerJitTests
{
    [Fact]
    public void Compiles_the_methods_of_every_assembly_of_the_agent_and_of_nothing_else()
    {
        var (methods, assemblies, _) = EagerJit.Run(CancellationToken.None);

        // The agent and the libraries it is made of, found through its references (the Platform one only through others').
        foreach (var name in new[] { "lispmobility", "LispMobility.Lisp", "LispMobility.Platform", "LispMobility.Xtr", "LispMobility.Mobility", "LispMobility.MappingSystem", "LispMobility.Watchers", "LispMobility.Fabric" })
            Assert.Contains(name, assemblies);
        Assert.All(assemblies, a => Assert.StartsWith("lispmobility", a, StringComparison.OrdinalIgnoreCase));
        Assert.Equal(assemblies.Count, assemblies.Distinct(StringComparer.Ordinal).Count());
        // Thousands of methods: a filter that passed over most of them would show here.
        Assert.InRange(methods, 5_000, 100_000);
    }

    [Fact]
    public void A_cancelled_start_stops_it()
    {
        using var cancelled = new CancellationTokenSource();
        cancelled.Cancel();
        Assert.Throws<OperationCanceledException>(() => EagerJit.Run(cancelled.Token));
    }
}
