using LispMobility.MappingSystem.Configuration;
using LispMobility.Mobility.Configuration;
using LispMobility.Xtr.Configuration;
using Microsoft.Extensions.Configuration;

namespace LispMobility.Agent.Configuration;

/// <summary>
/// The one validation of a configuration file, used by <c>config validate</c>, <c>run</c> and <c>map-server</c>: syntax (with
/// line and column), shape (unknown keys, wrong types), each section's own rules and the checks between sections — every
/// error at once, each with its path and what to do.
/// </summary>
internal static class ConfigValidator
{
    /// <summary>
    /// Every error of <paramref name="file"/>, its paths and OS-only settings judged for <paramref name="os"/> (this system by
    /// default); <paramref name="configuration"/> is what passed the shape check, for binding.
    /// </summary>
    public static List<ConfigError> Validate(FileInfo file, out IConfigurationRoot? configuration, TargetOs? os = null)
    {
        configuration = null;
        if (!file.Exists) return [new ConfigError("(file)", $"not found: {file.FullName}; give the path with --config")];
        byte[] bytes;
        try
        {
            bytes = File.ReadAllBytes(file.FullName);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return [new ConfigError("(file)", $"cannot be read: {e.Message}; run as a user who may read it")];
        }

        var root = ConfigDocument.Parse(bytes, out var syntax);
        if (root is null) return [syntax!];
        var flat = new Dictionary<string, string?>(StringComparer.OrdinalIgnoreCase);
        var errors = ConfigSchema.Check(root, flat);
        configuration = new ConfigurationBuilder().AddInMemoryCollection(flat).Build();
        var rules = new List<string>();
        var hasXtr = configuration.GetSection("Xtr").Exists() || root.Members.Any(m => m.Key.Equals("Xtr", StringComparison.OrdinalIgnoreCase));
        if (hasXtr)
        {
            Service.AgentConfiguration.Load(configuration, rules, os);
            rules.AddRange(Hosting.ServicePlumbing.ValidateConfiguration(configuration, os));
        }
        else
        {
            rules.AddRange(MappingSystemRules(configuration));
        }

        var ms = Service.AgentConfiguration.Bind<MapServerOptions>(configuration, "MapServer", []);
        var xtr = Service.AgentConfiguration.Bind<XtrOptions>(configuration, "Xtr", []);
        var mobility = Service.AgentConfiguration.Bind<MobilityOptions>(configuration, "Mobility", []);
        rules.AddRange(ConfigCrossChecks.Check(ms, xtr, mobility));

        // A value already reported for its shape is left out of the binding: the rule that then finds it missing is not news.
        var reported = errors.Select(e => e.Path).ToList();
        foreach (var rule in rules.Distinct(StringComparer.Ordinal))
        {
            var e = Parse(rule);
            if (!reported.Any(p => Under(e.Path, p))) errors.Add(e);
        }

        return errors;
    }

    /// <summary>A file without an Xtr section is a mapping system alone (<c>map-server</c>): its MapServer and Mobility sections.</summary>
    private static List<string> MappingSystemRules(IConfiguration configuration)
    {
        var errors = new List<string>();
        var ms = Service.AgentConfiguration.Bind<MapServerOptions>(configuration, "MapServer", errors);
        if (ms is not null) errors.AddRange(ms.Validate());
        var mobility = Service.AgentConfiguration.Bind<MobilityOptions>(configuration, "Mobility", errors);
        if (mobility is not null) errors.AddRange(mobility.Validate(ms?.Sites.Select(s => s.Name).ToList() ?? mobility.Ranges.SelectMany(r => r.Sites).Distinct().ToList()));
        if (ms is null && mobility is null) errors.Add("(root): none of the sections MapServer, Xtr, Mobility is present; an agent needs Xtr, a Map-Server alone needs MapServer");
        return errors;
    }

    /// <summary>"Fabric:NxApi.Device: text" (the section readers' spelling) as a path with dots and its message.</summary>
    private static ConfigError Parse(string rule)
    {
        var cut = rule.IndexOf(": ", StringComparison.Ordinal);
        return cut < 0 ? new ConfigError("(config)", rule) : new ConfigError(rule[..cut].Replace(':', '.'), rule[(cut + 2)..]);
    }

    private static bool Under(string path, string parent) =>
        path.StartsWith(parent, StringComparison.OrdinalIgnoreCase)
        && (path.Length == parent.Length || path[parent.Length] is '.' or '[' or '/');
}
