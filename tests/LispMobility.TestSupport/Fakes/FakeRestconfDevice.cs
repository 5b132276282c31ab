using System.Globalization;
using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http;

namespace LispMobility.TestSupport.Fakes;

/// <summary>
/// A fake Cisco IOS-XE RESTCONF server (RFC 8040) for <c>Cisco-IOS-XE-native:native/interface</c> Vlan entries:
/// GET one entry (<c>Vlan=N</c>, 404 when absent), PATCH merge on <c>…/interface</c> with
/// <c>application/yang-data+json</c> only (204 on success), a schema check of the leaves the gateway uses, and
/// errors in the RFC 8040 shape <c>{"ietf-restconf:errors":{"error":[{error-type, error-tag, error-path?, error-message}]}}</c>.
/// </summary>
public sealed class FakeRestconfDevice(string username = "admin", string password = "s3cret-xe") : FakeDeviceServer(username, password)
{
    /// <summary>The YANG JSON media type RESTCONF requires.</summary>
    public const string MediaType = "application/yang-data+json";

    private const string Root = "/restconf/data/Cisco-IOS-XE-native:native/interface";
    private static readonly HashSet<string> EntryLeaves = ["name", "description", "ip", "standby", "shutdown"];
    private static readonly HashSet<string> IpLeaves = ["proxy-arp", "address"];
    private static readonly HashSet<string> StandbyLeaves = ["version", "standby-list"];
    private static readonly HashSet<string> GroupLeaves = ["group-number", "ip", "mac-address", "priority", "preempt"];
    private readonly Lock _gate = new();

    /// <summary>Vlan entries by number, as stored (RFC 7951 JSON, members unprefixed inside the module).</summary>
    public SortedDictionary<int, JsonObject> Vlans { get; } = [];

    /// <summary>Leaves this "software release" does not know; a PATCH containing one is refused as malformed.</summary>
    public HashSet<string> UnknownLeaves { get; } = [];

    /// <inheritdoc />
    protected override Task RefuseAsync(HttpContext context) =>
        ReplyAsync(context, HttpStatusCode.Unauthorized, MediaType, Errors("protocol", "access-denied", "access denied", null));

    /// <inheritdoc />
    protected override async Task ServeAsync(HttpContext context, RecordedRequest request)
    {
        var path = context.Request.Path.Value ?? "";
        if (context.Request.Method == "GET" && path.StartsWith(Root + "/Vlan=", StringComparison.Ordinal))
        {
            if (request.Accept?.Contains(MediaType, StringComparison.Ordinal) != true)
            {
                await ReplyAsync(context, HttpStatusCode.NotAcceptable, MediaType, Errors("application", "invalid-value", $"Accept must be {MediaType}", null)).ConfigureAwait(false);
                return;
            }
            var key = path[(Root.Length + "/Vlan=".Length)..];
            JsonObject? entry = null;
            lock (_gate)
                if (int.TryParse(key, NumberStyles.None, CultureInfo.InvariantCulture, out var vlan) && Vlans.TryGetValue(vlan, out var found))
                    entry = (JsonObject)found.DeepClone();
            if (entry is null)
                await ReplyAsync(context, HttpStatusCode.NotFound, MediaType, Errors("application", "invalid-value", "uri keypath not found", null)).ConfigureAwait(false);
            else
                await ReplyAsync(context, HttpStatusCode.OK, MediaType, new JsonObject { ["Cisco-IOS-XE-native:Vlan"] = entry }.ToJsonString()).ConfigureAwait(false);
            return;
        }
        if (context.Request.Method == "PATCH" && path == Root)
        {
            if (request.ContentType?.StartsWith(MediaType, StringComparison.Ordinal) != true)
            {
                await ReplyAsync(context, HttpStatusCode.UnsupportedMediaType, MediaType,
                    Errors("application", "invalid-value", $"Content-Type must be {MediaType}, not {request.ContentType}", null)).ConfigureAwait(false);
                return;
            }
            var error = Patch(request.Body);
            if (error is null) context.Response.StatusCode = StatusCodes.Status204NoContent;
            else await ReplyAsync(context, HttpStatusCode.BadRequest, MediaType, error).ConfigureAwait(false);
            return;
        }
        await ReplyAsync(context, HttpStatusCode.NotFound, MediaType, Errors("application", "invalid-value", "uri keypath not found", null)).ConfigureAwait(false);
    }

    private string? Patch(string body)
    {
        JsonObject? root;
        try { root = JsonNode.Parse(body) as JsonObject; }
        catch (JsonException e) { return Errors("protocol", "malformed-message", $"JSON parse error: {e.Message}", null); }
        if (root?["Cisco-IOS-XE-native:interface"] is not JsonObject interfaces || root.Count != 1)
            return Errors("application", "malformed-message", "the body must be one Cisco-IOS-XE-native:interface object", "/Cisco-IOS-XE-native:native/interface");
        if (interfaces.Any(p => p.Key != "Vlan") || interfaces["Vlan"] is not JsonArray entries)
            return Errors("application", "malformed-message", "only a Vlan list is modelled by this fake", "/Cisco-IOS-XE-native:native/interface");
        var staged = new Dictionary<int, JsonObject>();
        foreach (var node in entries)
        {
            if (node is not JsonObject entry || entry["name"] is not JsonValue name || !name.TryGetValue<int>(out var vlan) || vlan is < 1 or > 4094)
                return Errors("application", "invalid-value", "Vlan entry needs a numeric name 1-4094", "/Cisco-IOS-XE-native:native/interface/Vlan");
            var at = $"/Cisco-IOS-XE-native:native/interface/Vlan={vlan}";
            var problem = Check(entry, EntryLeaves, at)
                ?? (entry["ip"] is JsonObject ip ? Check(ip, IpLeaves, at + "/ip") : null)
                ?? CheckStandby(entry["standby"] as JsonObject, at);
            if (problem is not null) return problem;
            staged[vlan] = entry;
        }
        lock (_gate)
            foreach (var (vlan, entry) in staged)
            {
                var current = Vlans.TryGetValue(vlan, out var existing) ? existing : Vlans[vlan] = new JsonObject { ["name"] = vlan };
                Merge(current, entry);
            }
        return null;
    }

    private string? CheckStandby(JsonObject? standby, string at)
    {
        if (standby is null) return null;
        var problem = Check(standby, StandbyLeaves, at + "/standby");
        if (problem is not null) return problem;
        var version = standby["version"] is JsonValue v && v.TryGetValue<int>(out var n) ? n : 1;
        if (standby["version"] is not null && version is not (1 or 2))
            return Errors("application", "invalid-value", $"\"{standby["version"]!.ToJsonString()}\" is not a valid value.", at + "/standby/version");
        foreach (var group in standby["standby-list"] as JsonArray ?? [])
        {
            if (group is not JsonObject g) return Errors("application", "malformed-message", "standby-list entries are objects", at + "/standby/standby-list");
            problem = Check(g, GroupLeaves, at + "/standby/standby-list");
            if (problem is not null) return problem;
            if (g["group-number"] is not JsonValue gn || !gn.TryGetValue<int>(out var number) || number < 0 || number > (version == 2 ? 4095 : 255))
                return Errors("application", "invalid-value", $"group-number {g["group-number"]?.ToJsonString()} is out of range for HSRP version {version}", at + "/standby/standby-list/group-number");
            if (g["mac-address"] is JsonValue mac && !System.Text.RegularExpressions.Regex.IsMatch(mac.ToString(), "^[0-9a-f]{4}\\.[0-9a-f]{4}\\.[0-9a-f]{4}$"))
                return Errors("application", "invalid-value", $"\"{mac}\" is not a valid value.", at + "/standby/standby-list/mac-address");
        }
        return null;
    }

    private string? Check(JsonObject node, HashSet<string> known, string at)
    {
        foreach (var (name, _) in node)
            if (!known.Contains(name) || UnknownLeaves.Contains(name))
                return Errors("application", "malformed-message", $"unknown element: {name}", $"{at}/{name}");
        return null;
    }

    private static void Merge(JsonObject target, JsonObject source)
    {
        foreach (var (name, value) in source)
        {
            if (value is JsonObject child && target[name] is JsonObject existing) Merge(existing, child);
            else if (value is JsonArray list && name == "standby-list" && target[name] is JsonArray groups)
                foreach (var item in list.OfType<JsonObject>())
                {
                    var key = item["group-number"]!.GetValue<int>();
                    var match = groups.OfType<JsonObject>().FirstOrDefault(g => g["group-number"]!.GetValue<int>() == key);
                    if (match is null) groups.Add(item.DeepClone());
                    else Merge(match, item);
                }
            else target[name] = value?.DeepClone();
        }
    }

    /// <summary>An RFC 8040 error body.</summary>
    public static string Errors(string type, string tag, string message, string? path)
    {
        var error = new JsonObject { ["error-type"] = type, ["error-tag"] = tag };
        if (path is not null) error["error-path"] = path;
        error["error-message"] = message;
        return new JsonObject { ["ietf-restconf:errors"] = new JsonObject { ["error"] = new JsonArray(error) } }.ToJsonString();
    }
}
