using LispMobility.MappingSystem;
using LispMobility.MappingSystem.Configuration;
using LispMobility.MappingSystem.Hosting;
using LispMobility.Mobility.Configuration;
using LispMobility.Xtr.Configuration;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;

namespace LispMobility.Agent.Cli;

/// <summary><c>config validate</c> and <c>map-server</c>: configuration read whole, every error reported at once.</summary>
internal static class ConfigCommands
{
    public static int Validate(FileInfo file, TextWriter output)
    {
        var errors = ValidateAll(file);
        if (errors.Count == 0)
        {
            output.WriteLine($"{file.FullName}: valid");
            return 0;
        }

        foreach (var e in errors) output.WriteLine($"{file.Name}: {e}");
        output.WriteLine($"{errors.Count} error(s)");
        return 2;
    }

    public static async Task<int> RunMapServerAsync(FileInfo file, CancellationToken ct)
    {
        var errors = Load(file, out var ms, out _, out _);
        if (ms is null) errors.Add("MapServer: section missing");
        if (errors.Count > 0)
        {
            foreach (var e in errors) await Console.Error.WriteLineAsync($"{file.Name}: {e}").ConfigureAwait(false);
            return 2;
        }

        var level = MinimumLevel(file, errors);
        if (errors.Count > 0)
        {
            foreach (var e in errors) await Console.Error.WriteLineAsync($"{file.Name}: {e}").ConfigureAwait(false);
            return 2;
        }

        using var loggers = LoggerFactory.Create(b => b.AddSimpleConsole(o => o.SingleLine = true).SetMinimumLevel(level));
        await StandaloneMapServer.RunAsync(ms!, loggers, Console.Out, ct).ConfigureAwait(false);
        return 0;
    }

    /// <summary>
    /// The level the <c>map-server</c> verb logs at: the file's <c>Log:MinimumLevel</c> (Serilog's names), Information without it.
    /// Per-registration events are Debug, so the default keeps a busy Map-Server's console to what an operator acts on.
    /// </summary>
    internal static LogLevel MinimumLevel(FileInfo file, List<string> errors)
    {
        var root = new ConfigurationBuilder().AddJsonFile(file.FullName, optional: false, reloadOnChange: false).Build();
        var options = Logging.LogOptions.FromConfiguration(root, out var problems);
        errors.AddRange(problems);
        return options?.MinimumLevel switch
        {
            Serilog.Events.LogEventLevel.Verbose => LogLevel.Trace,
            Serilog.Events.LogEventLevel.Debug => LogLevel.Debug,
            Serilog.Events.LogEventLevel.Warning => LogLevel.Warning,
            Serilog.Events.LogEventLevel.Error => LogLevel.Error,
            Serilog.Events.LogEventLevel.Fatal => LogLevel.Critical,
            _ => LogLevel.Information,
        };
    }

    /// <summary>
    /// Every error of a file: a whole agent's configuration when it has an Xtr section (as <c>run</c> would read it, logging and
    /// management API included), else the mapping-system sections alone (as <c>map-server</c> would).
    /// </summary>
    internal static List<string> ValidateAll(FileInfo file)
    {
        var errors = Load(file, out _, out var xtr, out _);
        if (errors.Count > 0 && !file.Exists) return errors;
        if (xtr is null) return errors;
        IConfigurationRoot root;
        try
        {
            root = new ConfigurationBuilder().AddJsonFile(file.FullName, optional: false).Build();
        }
        catch (Exception e) when (e is FormatException or InvalidDataException or System.Text.Json.JsonException)
        {
            return [$"not valid JSON: {e.Message}"];
        }

        var all = new List<string>();
        Service.AgentConfiguration.Load(root, all);
        all.AddRange(Hosting.ServicePlumbing.ValidateConfiguration(root));
        return all.Distinct().ToList();
    }

    /// <summary>Binds the sections that are present and validates each, returning every error with its path.</summary>
    internal static List<string> Load(FileInfo file, out MapServerOptions? mapServer, out XtrOptions? xtr, out MobilityOptions? mobility)
    {
        mapServer = null;
        xtr = null;
        mobility = null;
        var errors = new List<string>();
        if (!file.Exists)
        {
            errors.Add($"file not found: {file.FullName}");
            return errors;
        }

        IConfigurationRoot root;
        try
        {
            root = new ConfigurationBuilder().AddJsonFile(file.FullName, optional: false, reloadOnChange: false).Build();
        }
        catch (Exception e) when (e is FormatException or InvalidDataException or System.Text.Json.JsonException)
        {
            errors.Add($"not valid JSON: {e.Message}");
            return errors;
        }

        mapServer = Service.AgentConfiguration.Bind<MapServerOptions>(root, "MapServer", errors);
        if (mapServer is not null) errors.AddRange(mapServer.Validate());
        xtr = Service.AgentConfiguration.Bind<XtrOptions>(root, "Xtr", errors);
        if (xtr is not null) errors.AddRange(xtr.Validate());
        mobility = Service.AgentConfiguration.Bind<MobilityOptions>(root, "Mobility", errors);
        if (mobility is not null)
        {
            // The sites the mapping system knows, and this agent's own, are the sites a range may name.
            var sites = (mapServer?.Sites.Select(s => s.Name) ?? []).Append(xtr?.Site).OfType<string>().Distinct(StringComparer.OrdinalIgnoreCase).ToList();
            errors.AddRange(mobility.Validate(sites.Count > 0 ? sites : mobility.Ranges.SelectMany(r => r.Sites).Distinct().ToList()));
        }

        if (mapServer is null && xtr is null && mobility is null) errors.Add("none of the sections MapServer, Xtr, Mobility is present");
        return errors;
    }
}
