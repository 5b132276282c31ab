using System.Text.Json.Nodes;
using LispMobility.IntegrationTests.Lab;
using Xunit.Abstractions;

namespace LispMobility.IntegrationTests;

/// <summary>Issue 16, fault 3 through the running agent: DC2's journal on a small tmpfs that fills up during a move.</summary>
public sealed class AgentHealthTests(ITestOutputHelper output) : IAsyncLifetime
{
    private readonly string _mount = Directory.CreateTempSubdirectory("lm-agent-full-").FullName;
    private bool _mounted;

    public async Task InitializeAsync()
    {
        var r = await NetnsLab.RunAsync("mount", ["-t", "tmpfs", "-o", "size=512k", "tmpfs", _mount], TimeSpan.FromSeconds(10));
        Assert.True(r.ExitCode == 0, r.ToString());
        _mounted = true;
    }

    public async Task DisposeAsync()
    {
        if (_mounted) await NetnsLab.RunAsync("umount", ["-l", _mount], TimeSpan.FromSeconds(10));
        Directory.Delete(_mount, recursive: true);
    }

    [Fact]
    public async Task Healthz_is_degraded_with_the_reason_while_the_journal_cannot_be_written_and_healthy_again_once_space_is_freed()
    {
        var journal = Path.Combine(_mount, "dc2.db");
        await using var lab = await NetnsLab.StartAsync(output, (node, config) =>
        {
            if (node == "dc2") ((JsonObject)config["Mobility"]!)["Database"] = journal;
        });
        await Invariant.HoldsAsync(lab);
        await lab.EventuallyAsync(async () => await lab.HealthAsync("dc2") is { } h && h.StartsWith("Healthy", StringComparison.Ordinal),
            Converged.Deadline, "DC2's /healthz is Healthy");

        var filler = Path.Combine(_mount, "filler");
        FillDisk(filler);
        await lab.MoveVmAsync("dc2");
        await lab.EventuallyAsync(async () => await lab.HealthAsync("dc2") is { } h && h.StartsWith("Degraded", StringComparison.Ordinal)
            && h.Contains(journal, StringComparison.Ordinal) && h.Contains("disk is full", StringComparison.Ordinal),
            Converged.Deadline, "DC2's /healthz is Degraded, naming the journal and the full disk");
        lab.Log((await lab.HealthAsync("dc2"))!);
        // The move goes on without its journal.
        await Invariant.HoldsAsync(lab);

        File.Delete(filler);
        await lab.EventuallyAsync(async () => await lab.HealthAsync("dc2") is { } h && h.StartsWith("Healthy", StringComparison.Ordinal),
            Converged.Deadline, "DC2's /healthz is Healthy again once space is freed");
        var moves = await lab.CliAsync("dc2", "moves", "--json", "--eid", Invariant.Vm);
        Assert.True(moves.ExitCode == 0, moves.ToString());
        Assert.Contains("\"converged\"", moves.Output, StringComparison.Ordinal);
    }

    private static void FillDisk(string path)
    {
        using var file = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None, bufferSize: 1); // unbuffered: no flush to fail at dispose
        var block = new byte[4096];
        try
        {
            while (true) file.Write(block);
        }
        catch (IOException)
        {
            // Full: what the test wants.
        }
    }
}
