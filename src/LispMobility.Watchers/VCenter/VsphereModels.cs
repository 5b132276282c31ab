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
    [property: JsonPropertyName("nics")] IReadOnlyDictionary<string, VsphereNic>? Nics);

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

/// <summary>Source-generated JSON metadata for the REST client (no reflection, trimming-safe).</summary>
[JsonSerializable(typeof(string))]
[JsonSerializable(typeof(VsphereValue<string>))]
[JsonSerializable(typeof(List<VsphereHost>))]
[JsonSerializable(typeof(VsphereValue<List<VsphereHost>>))]
[JsonSerializable(typeof(List<VsphereCluster>))]
[JsonSerializable(typeof(VsphereValue<List<VsphereCluster>>))]
[JsonSerializable(typeof(List<VsphereDatacenter>))]
[JsonSerializable(typeof(VsphereValue<List<VsphereDatacenter>>))]
[JsonSerializable(typeof(List<VsphereVmSummary>))]
[JsonSerializable(typeof(VsphereValue<List<VsphereVmSummary>>))]
[JsonSerializable(typeof(List<VsphereGuestInterface>))]
[JsonSerializable(typeof(VsphereValue<List<VsphereGuestInterface>>))]
[JsonSerializable(typeof(VsphereVmInfo))]
[JsonSerializable(typeof(VsphereError))]
internal sealed partial class VsphereJson : JsonSerializerContext;

/// <summary>A {"key", "value"} entry: how the legacy /rest API writes maps.</summary>
public sealed record VsphereKeyValue<T>(
    [property: JsonPropertyName("key")] string Key,
    [property: JsonPropertyName("value")] T Value);

/// <summary>GET /rest/vcenter/vm/{vm}'s value: nics as a key/value list.</summary>
public sealed record VsphereLegacyVmInfo(
    [property: JsonPropertyName("name")] string Name,
    [property: JsonPropertyName("power_state")] string PowerState,
    [property: JsonPropertyName("nics")] IReadOnlyList<VsphereKeyValue<VsphereNic>>? Nics);

/// <summary>Source-generated JSON metadata for the legacy /rest forms.</summary>
[JsonSerializable(typeof(VsphereValue<VsphereLegacyVmInfo>))]
internal sealed partial class VsphereLegacyJson : JsonSerializerContext;
