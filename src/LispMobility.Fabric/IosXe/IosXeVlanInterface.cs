using System.Globalization;
using System.Text;
using System.Text.Json;

namespace LispMobility.Fabric.IosXe;

/// <summary>One <c>standby-list</c> entry as RESTCONF returns it.</summary>
internal sealed record IosXeStandbyGroup(int Group, string? VirtualIp, string? MacAddress, int? Priority);

/// <summary>
/// The gateway-relevant leaves of <c>Cisco-IOS-XE-native:native/interface/Vlan=N</c>. JSON member names follow
/// RFC 7951: the module prefix only on the top node, children in the same module unprefixed.
/// </summary>
internal sealed record IosXeVlanInterface(bool Exists, bool? ProxyArp, int? StandbyVersion, IReadOnlyDictionary<int, IosXeStandbyGroup> Groups)
{
    public const string MediaType = "application/yang-data+json";

    public static readonly IosXeVlanInterface Absent = new(false, null, null, new Dictionary<int, IosXeStandbyGroup>());

    /// <summary>Parses a GET reply; IOS-XE answers one list entry as an object, RFC 8040 allows a one-element array.</summary>
    public static IosXeVlanInterface Parse(string body, int vlan)
    {
        using var doc = JsonDocument.Parse(body);
        if (!doc.RootElement.TryGetProperty("Cisco-IOS-XE-native:Vlan", out var node))
            throw new FormatException("the reply has no Cisco-IOS-XE-native:Vlan member");
        var entry = node.ValueKind == JsonValueKind.Array
            ? node.EnumerateArray().FirstOrDefault(e => Number(e, "name") == vlan)
            : node;
        if (entry.ValueKind != JsonValueKind.Object) return Absent;

        bool? proxyArp = entry.TryGetProperty("ip", out var ip) && ip.TryGetProperty("proxy-arp", out var pa)
            && pa.ValueKind is JsonValueKind.True or JsonValueKind.False ? pa.GetBoolean() : null;
        int? version = null;
        var groups = new Dictionary<int, IosXeStandbyGroup>();
        if (entry.TryGetProperty("standby", out var standby) && standby.ValueKind == JsonValueKind.Object)
        {
            version = Number(standby, "version");
            if (standby.TryGetProperty("standby-list", out var list) && list.ValueKind == JsonValueKind.Array)
                foreach (var g in list.EnumerateArray())
                {
                    if (Number(g, "group-number") is not { } number) continue;
                    var address = g.TryGetProperty("ip", out var gip) && gip.TryGetProperty("address", out var a) ? a.GetString() : null;
                    var mac = g.TryGetProperty("mac-address", out var m) ? m.GetString()?.ToLowerInvariant() : null;
                    groups[number] = new IosXeStandbyGroup(number, address, mac, Number(g, "priority"));
                }
        }
        return new IosXeVlanInterface(true, proxyArp, version, groups);
    }

    /// <summary>The differences from the intent, in the operator's words.</summary>
    public IReadOnlyList<string> Differences(GatewayIntent want)
    {
        var iface = $"Vlan{want.Vlan}";
        if (!Exists) return [$"{iface} does not exist"];
        var differences = new List<string>();
        if (ProxyArp != want.ProxyArp)
            differences.Add($"{iface}: ip proxy-arp is {Show(ProxyArp)}, want {Show(want.ProxyArp)}");
        if (want.FhrpVersion == 2 && StandbyVersion != 2)
            differences.Add($"{iface}: standby version is {StandbyVersion?.ToString(CultureInfo.InvariantCulture) ?? "default (1)"}, want 2");
        if (want.FhrpVersion == 1 && StandbyVersion is 2)
            differences.Add($"{iface}: standby version is 2, want 1");
        var standby = $"{iface}: standby {want.Group}";
        if (!Groups.TryGetValue(want.Group, out var g)) return [.. differences, $"{standby} is not configured"];
        var vip = want.VirtualIp.ToString();
        var mac = VirtualMac.ToCiscoNotation(want.VirtualMac);
        if (g.VirtualIp != vip) differences.Add($"{standby} ip is {g.VirtualIp ?? "unset"}, want {vip}");
        if (g.MacAddress != mac) differences.Add($"{standby} mac-address is {g.MacAddress ?? "unset"}, want {mac}");
        if (want.Priority is { } p && g.Priority != p)
            differences.Add($"{standby} priority is {g.Priority?.ToString(CultureInfo.InvariantCulture) ?? "default"}, want {p}");
        return differences;
    }

    /// <summary>
    /// The merge body for <c>…/native/interface</c>: the whole desired subtree of this SVI, so PATCH creates the entry
    /// when absent (RFC 8040 §4.6.1 refuses a PATCH whose target entry does not exist) and is idempotent otherwise.
    /// </summary>
    public static string MergeBody(GatewayIntent want)
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            json.WriteStartObject("Cisco-IOS-XE-native:interface");
            json.WriteStartArray("Vlan");
            json.WriteStartObject();
            json.WriteNumber("name", want.Vlan);
            json.WriteStartObject("ip");
            json.WriteBoolean("proxy-arp", want.ProxyArp);
            json.WriteEndObject();
            json.WriteStartObject("standby");
            // The version leaf's JSON shape is unconfirmed on real devices; a number matches the uint8 reading of the model.
            json.WriteNumber("version", want.FhrpVersion);
            json.WriteStartArray("standby-list");
            json.WriteStartObject();
            json.WriteNumber("group-number", want.Group);
            json.WriteStartObject("ip");
            json.WriteString("address", want.VirtualIp.ToString());
            json.WriteEndObject();
            json.WriteString("mac-address", VirtualMac.ToCiscoNotation(want.VirtualMac));
            if (want.Priority is { } priority) json.WriteNumber("priority", priority);
            json.WriteEndObject();
            json.WriteEndArray();
            json.WriteEndObject();
            json.WriteEndObject();
            json.WriteEndArray();
            json.WriteEndObject();
            json.WriteEndObject();
        }
        return Encoding.UTF8.GetString(buffer.ToArray());
    }

    /// <summary>The RFC 8040 error text: tag, message and path of each error.</summary>
    public static string? ErrorText(string body)
    {
        try
        {
            using var doc = JsonDocument.Parse(body);
            if (!doc.RootElement.TryGetProperty("ietf-restconf:errors", out var errors)
                || !errors.TryGetProperty("error", out var list) || list.ValueKind != JsonValueKind.Array)
                return null;
            var texts = list.EnumerateArray().Select(e =>
            {
                var tag = Text(e, "error-tag") ?? "error";
                var message = Text(e, "error-message") ?? "(no message)";
                var path = Text(e, "error-path");
                return path is null ? $"{tag}: {message}" : $"{tag}: {message} (at {path})";
            }).ToList();
            return texts.Count == 0 ? null : string.Join("; ", texts);
        }
        catch (JsonException)
        {
            return null;
        }
    }

    private static string? Text(JsonElement e, string name) =>
        e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;

    private static int? Number(JsonElement e, string name)
    {
        if (!e.TryGetProperty(name, out var v)) return null;
        if (v.ValueKind == JsonValueKind.Number && v.TryGetInt32(out var n)) return n;
        return v.ValueKind == JsonValueKind.String && int.TryParse(v.GetString(), NumberStyles.None, CultureInfo.InvariantCulture, out n) ? n : null;
    }

    private static string Show(bool? value) => value switch { true => "on", false => "off", null => "unset" };
}
