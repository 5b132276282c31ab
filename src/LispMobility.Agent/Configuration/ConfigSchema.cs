using System.Collections;
using System.ComponentModel;
using System.Globalization;
using System.Reflection;
using System.Text.Json;
using LispMobility.Agent.Hosting;
using LispMobility.Agent.Logging;
using LispMobility.Agent.Service;
using LispMobility.Fabric;
using LispMobility.MappingSystem.Configuration;
using LispMobility.Mobility.Configuration;
using LispMobility.Watchers;
using LispMobility.Watchers.DataPlane;
using LispMobility.Watchers.HyperV;
using LispMobility.Watchers.Libvirt;
using LispMobility.Watchers.VCenter;
using LispMobility.Xtr.Configuration;

namespace LispMobility.Agent.Configuration;

/// <summary>
/// Checks a configuration file's shape against the option types it binds to: unknown sections and keys, and values of the
/// wrong type, each with its path, line and column. What passes is flattened for the binder; what fails is left out of it, so
/// one mistake is reported once, in these words, and not again as the binder's exception.
/// </summary>
internal static class ConfigSchema
{
    /// <summary>A section whose keys are checked but whose values are parsed by hand (the reader reports their type errors).</summary>
    private sealed record KeysOnly(Type Type);

    /// <summary>A section that is a group of sections.</summary>
    private sealed record Group(IReadOnlyDictionary<string, object> Members);

    /// <summary>A section left to its library (Serilog's own settings).</summary>
    private sealed record FreeForm;

    private static readonly Group Root = new(new Dictionary<string, object>(StringComparer.OrdinalIgnoreCase)
    {
        ["Agent"] = typeof(AgentRuntimeOptions),
        ["MapServer"] = typeof(MapServerOptions),
        ["Xtr"] = typeof(XtrOptions),
        ["Mobility"] = typeof(MobilityOptions),
        ["Watchers"] = new Group(new Dictionary<string, object>(StringComparer.OrdinalIgnoreCase)
        {
            ["Sites"] = typeof(SiteMapOptions), ["VCenter"] = typeof(VCenterOptions), ["HyperV"] = typeof(HyperVOptions),
            ["Libvirt"] = typeof(LibvirtOptions), ["DataPlane"] = typeof(DataPlaneOptions),
        }),
        ["Fabric"] = new Group(new Dictionary<string, object>(StringComparer.OrdinalIgnoreCase)
        {
            ["NxApi"] = typeof(NxApiOptions), ["Restconf"] = typeof(RestconfOptions), ["Linux"] = typeof(LinuxGatewayOptions),
        }),
        [ManagementApiOptions.SectionName] = new KeysOnly(typeof(ManagementApiOptions)),
        [LogOptions.SectionName] = new KeysOnly(typeof(LogOptions)),
        [MetricsOptions.SectionName] = new KeysOnly(typeof(MetricsOptions)),
        ["Serilog"] = new FreeForm(),
    });

    /// <summary>Checks <paramref name="root"/>; returns the errors and fills <paramref name="flat"/> with the keys that passed.</summary>
    public static List<ConfigError> Check(ConfigNode root, Dictionary<string, string?> flat)
    {
        var errors = new List<ConfigError>();
        Walk(Root, root, "", "", errors, flat);
        return errors;
    }

    private static void Walk(object schema, ConfigNode node, string path, string key, List<ConfigError> errors, Dictionary<string, string?> flat)
    {
        switch (schema)
        {
            case FreeForm:
                Flatten(node, key, flat);
                return;
            case Group g:
                if (!ExpectObject(node, path, errors)) return;
                foreach (var m in Members(node, path, key, errors))
                {
                    if (g.Members.TryGetValue(m.Name, out var child)) Walk(child, m.Value, m.Path, m.Key, errors, flat);
                    else errors.Add(Unknown(m, g.Members.Keys, "section"));
                }

                return;
            case KeysOnly k:
                if (!ExpectObject(node, path, errors)) return;
                var props = Properties(k.Type);
                foreach (var m in Members(node, path, key, errors))
                {
                    if (props.ContainsKey(m.Name)) Flatten(m.Value, m.Key, flat);
                    else errors.Add(Unknown(m, props.Keys, "key"));
                }

                return;
            case Type t:
                WalkType(t, node, path, key, errors, flat);
                return;
        }
    }

    private static void WalkType(Type type, ConfigNode node, string path, string key, List<ConfigError> errors, Dictionary<string, string?> flat)
    {
        type = Nullable.GetUnderlyingType(type) ?? type;
        if (node.Kind == JsonValueKind.Null)
        {
            flat[key] = null;
            return;
        }

        if (IsScalar(type))
        {
            if (!node.IsScalar) errors.Add(new ConfigError(path, $"expected {Expected(type)}, found {node.Describe()}; {Fix(type)}", node.Line, node.Column));
            else if (!Converts(type, node.Text!)) errors.Add(new ConfigError(path, $"{node.Describe()} is not {Expected(type)}; {Fix(type)}", node.Line, node.Column));
            else flat[key] = node.Text;
            return;
        }

        if (DictionaryValue(type) is { } valueType)
        {
            if (!ExpectObject(node, path, errors)) return;
            if (node.Members.Count == 0) flat[key] = null;
            foreach (var m in Members(node, path, key, errors)) WalkType(valueType, m.Value, m.Path, m.Key, errors, flat);
            return;
        }

        if (ElementType(type) is { } element)
        {
            if (node.Kind != JsonValueKind.Array)
            {
                errors.Add(new ConfigError(path, $"expected a list [ ... ], found {node.Describe()}; write [ {Example(element)} ]", node.Line, node.Column));
                return;
            }

            if (node.Items.Count == 0) flat[key] = null;
            for (var i = 0; i < node.Items.Count; i++)
            {
                WalkType(element, node.Items[i], string.Create(CultureInfo.InvariantCulture, $"{path}[{i}]"), string.Create(CultureInfo.InvariantCulture, $"{key}:{i}"), errors, flat);
            }
            return;
        }

        if (!ExpectObject(node, path, errors)) return;
        var props = Properties(type);
        if (node.Members.Count == 0) flat[key] = null;
        foreach (var m in Members(node, path, key, errors))
        {
            if (props.TryGetValue(m.Name, out var p)) WalkType(p.PropertyType, m.Value, m.Path, m.Key, errors, flat);
            else errors.Add(Unknown(m, props.Keys, "key"));
        }
    }

    /// <summary>A member with its display path ("Watchers.Sites.HostsToSites.esx.example.net") and configuration key (colon-separated).</summary>
    private sealed record Member(string Name, ConfigNode Value, string Path, string Key, int Line, int Column);

    /// <summary>An object's members; a key written twice is an error (the binder would keep one silently).</summary>
    private static IEnumerable<Member> Members(ConfigNode node, string path, string key, List<ConfigError> errors)
    {
        var seen = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        foreach (var m in node.Members)
        {
            var member = new Member(m.Key, m.Value, path.Length == 0 ? m.Key : $"{path}.{m.Key}", key.Length == 0 ? m.Key : $"{key}:{m.Key}", m.Line, m.Column);
            if (!seen.Add(m.Key))
            {
                errors.Add(new ConfigError(member.Path, "written twice in the same object; keep one", m.Line, m.Column));
                continue;
            }

            yield return member;
        }
    }

    private static bool ExpectObject(ConfigNode node, string path, List<ConfigError> errors)
    {
        if (node.Kind == JsonValueKind.Object) return true;
        errors.Add(new ConfigError(path.Length == 0 ? "(root)" : path, $"expected an object {{ ... }}, found {node.Describe()}", node.Line, node.Column));
        return false;
    }

    private static ConfigError Unknown(Member m, IEnumerable<string> known, string what)
    {
        var key = m.Name;
        var names = known.ToList();
        var close = names.Select(n => (n, d: Distance(key.ToUpperInvariant(), n.ToUpperInvariant()))).Where(x => x.d <= Math.Max(2, key.Length / 3)).OrderBy(x => x.d).Select(x => x.n).FirstOrDefault();
        var fix = close is not null ? $"did you mean '{close}'?" : $"known {what}s here: {string.Join(", ", names)}";
        return new ConfigError(m.Path, $"unknown {what} '{key}'; {fix}", m.Line, m.Column);
    }

    private static void Flatten(ConfigNode node, string key, Dictionary<string, string?> flat)
    {
        switch (node.Kind)
        {
            case JsonValueKind.Object:
                if (node.Members.Count == 0) flat[key] = null;
                foreach (var m in node.Members) Flatten(m.Value, $"{key}:{m.Key}", flat);
                break;
            case JsonValueKind.Array:
                if (node.Items.Count == 0) flat[key] = null;
                for (var i = 0; i < node.Items.Count; i++) Flatten(node.Items[i], string.Create(CultureInfo.InvariantCulture, $"{key}:{i}"), flat);
                break;
            default:
                flat[key] = node.Text;
                break;
        }
    }

    private static Dictionary<string, PropertyInfo> Properties(Type type) =>
        type.GetProperties(BindingFlags.Public | BindingFlags.Instance).Where(p => p.CanWrite && p.GetIndexParameters().Length == 0)
            .ToDictionary(p => p.Name, StringComparer.OrdinalIgnoreCase);

    private static bool IsScalar(Type t) => t.IsPrimitive || t.IsEnum || t == typeof(string) || t == typeof(decimal) || t == typeof(TimeSpan) || t == typeof(Uri)
                                            || t == typeof(DateTimeOffset) || t == typeof(Guid);

    private static Type? DictionaryValue(Type t) =>
        t.IsGenericType && t.GetGenericArguments() is [var k, var v] && k == typeof(string) && typeof(IEnumerable).IsAssignableFrom(t) ? v : null;

    private static Type? ElementType(Type t) =>
        t.IsArray ? t.GetElementType() : t.IsGenericType && t.GetGenericArguments() is [var e] && typeof(IEnumerable).IsAssignableFrom(t) ? e : null;

    private static bool Converts(Type type, string text)
    {
        if (type == typeof(string)) return true;
        if (type.IsEnum) return Enum.GetNames(type).Contains(text, StringComparer.OrdinalIgnoreCase);
        if (type == typeof(Uri)) return Uri.TryCreate(text, UriKind.RelativeOrAbsolute, out _);
        if (type == typeof(TimeSpan)) return TimeSpan.TryParse(text, CultureInfo.InvariantCulture, out _);
        try
        {
            return TypeDescriptor.GetConverter(type).ConvertFromInvariantString(text) is not null;
        }
        catch (Exception e) when (e is FormatException or ArgumentException or OverflowException or NotSupportedException || e.InnerException is FormatException or OverflowException)
        {
            return false;
        }
    }

    private static string Expected(Type t) => t switch
    {
        _ when t == typeof(bool) => "true or false",
        _ when t == typeof(string) => "a string",
        _ when t == typeof(TimeSpan) => "a duration",
        _ when t == typeof(Uri) => "a URL",
        _ when t.IsEnum => $"one of {string.Join(", ", Enum.GetNames(t))}",
        _ when t == typeof(double) || t == typeof(float) || t == typeof(decimal) => "a number",
        _ when t == typeof(byte) => "a whole number 0-255",
        _ when t == typeof(ushort) => "a whole number 0-65535",
        _ when t == typeof(uint) || t == typeof(ulong) => "a whole number ≥ 0",
        _ when t.IsPrimitive => "a whole number",
        _ => $"a {t.Name}",
    };

    private static string Fix(Type t) => t switch
    {
        _ when t == typeof(bool) => "write true or false, without quotes",
        _ when t == typeof(TimeSpan) => "write \"hh:mm:ss\" (e.g. \"00:00:30\" for 30 s, \"1.00:00:00\" for a day)",
        _ when t.IsEnum => $"write one of them, e.g. \"{Enum.GetNames(t)[0]}\"",
        _ when t == typeof(string) => "write it in quotes, e.g. \"text\"",
        _ when t == typeof(Uri) => "write e.g. \"https://host.example.net/\"",
        _ => "write a number without quotes, e.g. 1",
    };

    private static string Example(Type element) => IsScalar(element) ? element == typeof(string) ? "\"...\"" : "..." : "{ ... }";

    private static int Distance(string a, string b)
    {
        var d = new int[b.Length + 1];
        for (var j = 0; j <= b.Length; j++) d[j] = j;
        for (var i = 1; i <= a.Length; i++)
        {
            var previous = d[0];
            d[0] = i;
            for (var j = 1; j <= b.Length; j++)
            {
                var current = d[j];
                d[j] = Math.Min(Math.Min(d[j] + 1, d[j - 1] + 1), previous + (a[i - 1] == b[j - 1] ? 0 : 1));
                previous = current;
            }
        }

        return d[b.Length];
    }
}
