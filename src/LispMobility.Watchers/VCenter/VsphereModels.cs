using System.Text.Json;
using System.Text.Json.Serialization;

namespace LispMobility.Watchers.VCenter;

/// <summary>GET /api/vcenter/host item.</summary>
public sealed record VsphereHost(
    [property: JsonPropertyName("host")] string Host,
    [property: JsonPropertyName("name")] string Name,
    [property: JsonPropertyName("connection_state")] string? ConnectionState = null,
    [property: JsonPropertyName("power_state")] string? PowerState = null);

/// <summary>GET /api/vcenter/cluster item.</summary>
public sealed record VsphereCluster(
    [property: JsonPropertyName("cluster")] string Cluster,
    [property: JsonPropertyName("name")] string Name);

/// <summary>GET /api/vcenter/datacenter item.</summary>
public sealed record VsphereDatacenter(
    [property: JsonPropertyName("datacenter")] string Datacenter,
    [property: JsonPropertyName("name")] string Name);

/// <summary>GET /api/vcenter/vm item.</summary>
public sealed record VsphereVmSummary(
    [property: JsonPropertyName("vm")] string Vm,
    [property: JsonPropertyName("name")] string Name,
    [property: JsonPropertyName("power_state")] string PowerState);

/// <summary>One IP of GET /api/vcenter/vm/{vm}/guest/networking/interfaces.</summary>
public sealed record VsphereIpAddress(
    [property: JsonPropertyName("ip_address")] string IpAddress,
    [property: JsonPropertyName("prefix_length")] int PrefixLength,
    [property: JsonPropertyName("state")] string? State = null);

/// <summary>The ip object of a guest interface.</summary>
public sealed record VsphereIpConfig([property: JsonPropertyName("ip_addresses")] IReadOnlyList<VsphereIpAddress>? IpAddresses);

/// <summary>GET /api/vcenter/vm/{vm}/guest/networking/interfaces item.</summary>
public sealed record VsphereGuestInterface(
    [property: JsonPropertyName("nic")] string? Nic,
    [property: JsonPropertyName("mac_address")] string? MacAddress,
    [property: JsonPropertyName("ip")] VsphereIpConfig? Ip);

/// <summary>One NIC of GET /api/vcenter/vm/{vm} (hardware, known without VMware Tools).</summary>
public sealed record VsphereNic(
    [property: JsonPropertyName("label")] string? Label,
    [property: JsonPropertyName("mac_address")] string? MacAddress);

/// <summary>The subset of GET /api/vcenter/vm/{vm} the watcher reads.</summary>
public sealed record VsphereVmInfo(
    [property: JsonPropertyName("name")] string Name,
    [property: JsonPropertyName("power_state")] string PowerState,
    [property: JsonPropertyName("nics"), JsonConverter(typeof(VsphereNicsConverter))] IReadOnlyDictionary<string, VsphereNic>? Nics);

/// <summary>
/// A VM's <c>nics</c>: an object keyed by NIC id on <c>/api</c>, a list of <c>{"key", "value"}</c> on the legacy
/// <c>/rest</c> (how it writes every map); both read into one dictionary.
/// </summary>
internal sealed class VsphereNicsConverter : JsonConverter<IReadOnlyDictionary<string, VsphereNic>>
{
    public override IReadOnlyDictionary<string, VsphereNic>? Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        switch (reader.TokenType)
        {
            case JsonTokenType.Null:
                return null;
            case JsonTokenType.StartArray:
                var entries = JsonSerializer.Deserialize(ref reader, VsphereJson.Default.ListVsphereKeyValueVsphereNic) ?? [];
                return entries.ToDictionary(e => e.Key, e => e.Value, StringComparer.Ordinal);
            default:
                return JsonSerializer.Deserialize(ref reader, VsphereJson.Default.DictionaryStringVsphereNic);
        }
    }

    public override void Write(Utf8JsonWriter writer, IReadOnlyDictionary<string, VsphereNic> value, JsonSerializerOptions options) =>
        JsonSerializer.Serialize(writer, value.ToDictionary(StringComparer.Ordinal), VsphereJson.Default.DictionaryStringVsphereNic);
}

/// <summary>
/// A session token. <c>POST /api/session</c> answers it as a JSON string (<c>"abc…"</c>): read through this type, so
/// that the quotes are JSON's and not part of the token.
/// </summary>
[JsonConverter(typeof(VsphereSessionTokenConverter))]
public sealed record VsphereSessionToken(string Value)
{
    /// <inheritdoc />
    public override string ToString() => "(session token hidden)";
}

/// <summary>Reads and writes a <see cref="VsphereSessionToken"/> as the JSON string it is.</summary>
internal sealed class VsphereSessionTokenConverter : JsonConverter<VsphereSessionToken>
{
    public override VsphereSessionToken Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) =>
        reader.TokenType == JsonTokenType.String && reader.GetString() is { Length: > 0 } token
            ? new VsphereSessionToken(token)
            : throw new JsonException("a vCenter session token is a non-empty JSON string");

    public override void Write(Utf8JsonWriter writer, VsphereSessionToken value, JsonSerializerOptions options) => writer.WriteStringValue(value.Value);
}

/// <summary>An error body: {"error_type", "messages": [{"id", "default_message"}]}.</summary>
public sealed record VsphereError(
    [property: JsonPropertyName("error_type")] string? ErrorType,
    [property: JsonPropertyName("messages")] IReadOnlyList<VsphereMessage>? Messages);

/// <summary>One localizable message of an error body.</summary>
public sealed record VsphereMessage(
    [property: JsonPropertyName("id")] string? Id,
    [property: JsonPropertyName("default_message")] string? DefaultMessage);

/// <summary>The {"value": …} wrapper of the legacy /rest API.</summary>
public sealed record VsphereValue<T>([property: JsonPropertyName("value")] T Value);

/// <summary>Source-generated JSON metadata for the Refit clients (no reflection, trimming-safe).</summary>
[JsonSerializable(typeof(VsphereSessionToken))]
[JsonSerializable(typeof(VsphereValue<VsphereSessionToken>))]
[JsonSerializable(typeof(List<VsphereHost>))]
[JsonSerializable(typeof(List<VsphereCluster>))]
[JsonSerializable(typeof(List<VsphereDatacenter>))]
[JsonSerializable(typeof(List<VsphereVmSummary>))]
[JsonSerializable(typeof(List<VsphereGuestInterface>))]
[JsonSerializable(typeof(VsphereVmInfo))]
[JsonSerializable(typeof(Dictionary<string, VsphereNic>))]
[JsonSerializable(typeof(List<VsphereKeyValue<VsphereNic>>))]
[JsonSerializable(typeof(VsphereError))]
internal sealed partial class VsphereJson : JsonSerializerContext;

/// <summary>A {"key", "value"} entry: how the legacy /rest API writes maps.</summary>
public sealed record VsphereKeyValue<T>(
    [property: JsonPropertyName("key")] string Key,
    [property: JsonPropertyName("value")] T Value);
