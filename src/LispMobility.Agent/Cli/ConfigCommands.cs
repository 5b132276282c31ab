using LispMobility.MappingSystem;
using LispMobility.MappingSystem.Configuration;
using LispMobility.MappingSystem.Hosting;
using LispMobility.Agent.Configuration;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;

namespace LispMobility.Agent.Cli;

/// <summary><c>config validate</c> and <c>map-server</c>: configuration read whole, every error reported at once.</summary>
internal static class ConfigCommands
{
    /// <summary><c>config validate FILE [--os linux|windows]</c>: 0 when valid for that system, 2 with every error.</summary>
    public static int Validate(FileInfo file, TargetOs os, TextWriter output)
    {
        var errors = ConfigValidator.Validate(file, out _, os);
        if (errors.Count == 0)
        {
            output.WriteLine($"{file.FullName}: valid for {os.Name()}");
            return 0;
        }

        foreach (var e in errors) output.WriteLine($"{file.Name}: {e}");
        output.WriteLine($"{errors.Count} error(s)");
        return 2;
    }

    public static async Task<int> RunMapServerAsync(FileInfo file, CancellationToken ct)
    {
        var errors = ConfigValidator.Validate(file, out var root).Select(e => e.ToString()).ToList();
        var ms = root is null ? null : Service.AgentConfiguration.Bind<MapServerOptions>(root, "MapServer", errors);
        if (errors.Count == 0 && ms is null) errors.Add("MapServer: section missing; the map-server verb runs the MapServer section of the file");
        if (errors.Count > 0)
        {
            foreach (var e in errors) await Console.Error.WriteLineAsync($"{file.Name}: {e}").ConfigureAwait(false);
            return 2;
        }

        var level = MinimumLevel(root!, errors);
        using var loggers = LoggerFactory.Create(b => b.AddSimpleConsole(o => o.SingleLine = true).SetMinimumLevel(level));
        try
        {
            await StandaloneMapServer.RunAsync(ms!, loggers, Console.Out, ct).ConfigureAwait(false);
        }
        catch (InvalidOperationException e) when (e.InnerException is System.Net.Sockets.SocketException)
        {
            await Console.Error.WriteLineAsync($"lispmobility map-server: {OperatorErrors.Describe(e)}").ConfigureAwait(false);
            return 1;
        }

        return 0;
    }

    /// <summary>
    /// The level the <c>map-server</c> verb logs at: the file's <c>Log:MinimumLevel</c> (Serilog's names), Information without it.
    /// Per-registration events are Debug, so the default keeps a busy Map-Server's console to what an operator acts on.
    /// </summary>
    internal static LogLevel MinimumLevel(IConfiguration root, List<string> errors)
    {
        var options = Logging.LogOptions.FromConfiguration(root, out var problems);
        errors.AddRange(problems);
        // LogOptions has already refused a name Serilog does not know; its enum's names are the ones LogLevelNames maps.
        return options is not null && LogLevelNames.TryParse(options.MinimumLevel.ToString(), out var level) ? level : LogLevel.Information;
    }
}
