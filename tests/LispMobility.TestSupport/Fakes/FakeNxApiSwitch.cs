using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Http;

namespace LispMobility.TestSupport.Fakes;

/// <summary>One HSRP group on the fake switch.</summary>
public sealed class FakeHsrpGroup
{
    /// <summary>Virtual IP (<c>ip A.B.C.D</c>).</summary>
    public string? Ip { get; set; }

    /// <summary>Virtual MAC in Cisco notation.</summary>
    public string? MacAddress { get; set; }

    /// <summary>Priority, when configured.</summary>
    public int? Priority { get; set; }
}

/// <summary>One SVI on the fake switch.</summary>
public sealed class FakeSvi
{
    /// <summary>True after <c>no shutdown</c>.</summary>
    public bool NoShutdown { get; set; }

    /// <summary>True after <c>ip proxy-arp</c>.</summary>
    public bool ProxyArp { get; set; }

    /// <summary>1 unless <c>hsrp version 2</c>.</summary>
    public int HsrpVersion { get; set; } = 1;

    /// <summary>HSRP groups by number.</summary>
    public SortedDictionary<int, FakeHsrpGroup> Groups { get; } = [];
}

/// <summary>
/// A fake Cisco NX-OS switch speaking NX-API JSON-RPC on <c>POST /ins</c>: checks the framing (content type
/// <c>application/json-rpc</c>, <c>jsonrpc</c> 2.0, <c>params.cmd</c>, <c>params.version</c> 1, <c>id</c>), runs
/// <c>cli</c> configuration lines through a small mode machine that keeps a running config per VLAN, renders
/// <c>show running-config</c> for <c>cli_ascii</c>, and answers failures with HTTP 500 and the JSON-RPC error
/// shape NX-API uses (<c>{"code":-32602,"message":"Invalid params","data":{"msg":"% Invalid command at '^' marker."}}</c>).
/// </summary>
public sealed partial class FakeNxApiSwitch(string username = "admin", string password = "s3cret-nx") : FakeDeviceServer(username, password)
{
    private readonly Lock _gate = new();

    /// <summary>Enabled features (<c>feature X</c>).</summary>
    public HashSet<string> Features { get; } = ["nxapi"];

    /// <summary>SVIs by VLAN.</summary>
    public SortedDictionary<int, FakeSvi> Svis { get; } = [];

    /// <summary>Configuration lines the switch refuses, with the CLI message it gives (e.g. an unsupported mac-address).</summary>
    public Dictionary<string, string> RefusedLines { get; } = [];

    /// <inheritdoc />
    protected override async Task ServeAsync(HttpContext context, RecordedRequest request)
    {
        if (context.Request.Path != "/ins" || context.Request.Method != "POST")
        {
            context.Response.StatusCode = StatusCodes.Status404NotFound;
            return;
        }
        if (request.ContentType?.StartsWith("application/json-rpc", StringComparison.Ordinal) != true)
        {
            await ReplyAsync(context, HttpStatusCode.BadRequest, "application/json-rpc",
                """{"jsonrpc":"2.0","error":{"code":-32700,"message":"Parse error","data":{"msg":"Content-Type must be application/json-rpc"}},"id":null}""").ConfigureAwait(false);
            return;
        }
        JsonNode? root;
        try { root = JsonNode.Parse(request.Body); }
        catch (JsonException) { root = null; }
        var calls = root switch
        {
            JsonArray array => array.ToList(),
            JsonObject single => [single],
            _ => null,
        };
        if (calls is null || calls.Count == 0)
        {
            await ReplyAsync(context, HttpStatusCode.BadRequest, "application/json-rpc",
                """{"jsonrpc":"2.0","error":{"code":-32700,"message":"Parse error"},"id":null}""").ConfigureAwait(false);
            return;
        }
        var replies = new JsonArray();
        var failed = false;
        lock (_gate)
        {
            var mode = new Mode();
            foreach (var call in calls)
            {
                var reply = Execute(call as JsonObject, mode);
                failed |= reply.ContainsKey("error");
                replies.Add(reply);
                if (failed) break; // NX-API stops at the first failing command
            }
        }
        var body = root is JsonArray ? replies.ToJsonString() : replies[0]!.ToJsonString();
        await ReplyAsync(context, failed ? HttpStatusCode.InternalServerError : HttpStatusCode.OK, "application/json-rpc", body).ConfigureAwait(false);
    }

    /// <summary>The running configuration of one SVI exactly as <c>show running-config interface vlan N</c> prints it.</summary>
    public string RunningConfig(int vlan)
    {
        lock (_gate)
        {
            var text = new StringBuilder();
            text.Append(CultureInfo.InvariantCulture, $"\n!Command: show running-config interface Vlan{vlan}\n!Running configuration last done at: Sun Nov 22 04:00:00 2026\n!Time: Sun Nov 22 04:00:01 2026\n\nversion 9.3(8) Bios:version  \n\n");
            if (!Svis.TryGetValue(vlan, out var svi)) return text.ToString();
            text.Append(CultureInfo.InvariantCulture, $"interface Vlan{vlan}\n");
            if (svi.NoShutdown) text.Append("  no shutdown\n");
            if (svi.ProxyArp) text.Append("  ip proxy-arp\n");
            if (svi.HsrpVersion != 1) text.Append(CultureInfo.InvariantCulture, $"  hsrp version {svi.HsrpVersion}\n");
            foreach (var (number, group) in svi.Groups)
            {
                text.Append(CultureInfo.InvariantCulture, $"  hsrp {number} \n"); // NX-OS prints a trailing space here
                if (group.Priority is { } p) text.Append(CultureInfo.InvariantCulture, $"    priority {p}\n");
                if (group.Ip is { } ip) text.Append(CultureInfo.InvariantCulture, $"    ip {ip}\n");
                if (group.MacAddress is { } mac) text.Append(CultureInfo.InvariantCulture, $"    mac-address {mac}\n");
            }
            return text.ToString();
        }
    }

    private sealed class Mode
    {
        public FakeSvi? Svi;
        public FakeHsrpGroup? Group;
    }

    private JsonObject Execute(JsonObject? call, Mode mode)
    {
        var id = call?["id"]?.DeepClone();
        if (call?["jsonrpc"]?.GetValue<string>() != "2.0" || call["method"]?.GetValue<string>() is not { } method
            || call["params"]?["cmd"]?.GetValue<string>() is not { } cmd || call["params"]?["version"]?.GetValue<int>() != 1 || id is null)
            return Error(id, -32600, "Invalid request", "each call needs jsonrpc 2.0, method, params.cmd, params.version 1 and id");
        return method switch
        {
            "cli_ascii" => Show(id, cmd.Trim()),
            "cli" when cmd.Trim().StartsWith("show ", StringComparison.Ordinal) => Error(id, -32602, "Invalid params", "fake: structured show output is not modelled"),
            "cli" => Configure(id, cmd.Trim(), mode),
            _ => Error(id, -32601, "Method not found", $"method {method} is not supported"),
        };
    }

    private JsonObject Show(JsonNode id, string cmd)
    {
        if (cmd == "show running-config | include ^feature")
            return Result(id, string.Concat(Features.Order(StringComparer.Ordinal).Select(f => $"feature {f}\n")));
        var m = ShowSvi().Match(cmd);
        if (!m.Success) return Invalid(id);
        var vlan = int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture);
        // The switch refuses to show an SVI that was never created.
        return Svis.ContainsKey(vlan) ? Result(id, RunningConfig(vlan)) : Error(id, -32602, "Invalid params", "Invalid range at '^' marker.\n");
    }

    private JsonObject Configure(JsonNode id, string line, Mode mode)
    {
        if (RefusedLines.TryGetValue(line, out var refusal)) return Error(id, -32602, "Invalid params", refusal);
        Match m;
        if ((m = FeatureLine().Match(line)).Success)
        {
            Features.Add(m.Groups[1].Value);
            mode.Svi = null;
            mode.Group = null;
            return Ok(id);
        }
        if ((m = InterfaceLine().Match(line)).Success)
        {
            if (!Features.Contains("interface-vlan")) return Invalid(id);
            var vlan = int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture);
            if (vlan is < 1 or > 4094) return Error(id, -32602, "Invalid params", "Invalid range at '^' marker.\n");
            mode.Svi = Svis.TryGetValue(vlan, out var svi) ? svi : Svis[vlan] = new FakeSvi();
            mode.Group = null;
            return Ok(id);
        }
        if (mode.Group is { } group)
        {
            if ((m = GroupIp().Match(line)).Success) { group.Ip = m.Groups[1].Value; return Ok(id); }
            if ((m = GroupMac().Match(line)).Success) { group.MacAddress = m.Groups[1].Value.ToLowerInvariant(); return Ok(id); }
            if ((m = GroupPriority().Match(line)).Success) { group.Priority = int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture); return Ok(id); }
            mode.Group = null; // like the CLI, an unknown sub-mode line is tried in the parent mode
        }
        if (mode.Svi is not { } current) return Invalid(id);
        switch (line)
        {
            case "no shutdown": current.NoShutdown = true; return Ok(id);
            case "shutdown": current.NoShutdown = false; return Ok(id);
            case "ip proxy-arp": current.ProxyArp = true; return Ok(id);
            case "no ip proxy-arp": current.ProxyArp = false; return Ok(id);
        }
        if (!Features.Contains("hsrp")) return Invalid(id);
        if ((m = HsrpVersion().Match(line)).Success)
        {
            current.HsrpVersion = int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture);
            return Ok(id);
        }
        if ((m = HsrpGroup().Match(line)).Success)
        {
            var number = int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture);
            var max = current.HsrpVersion == 2 ? 4095 : 255;
            if (number > max) return Error(id, -32602, "Invalid params", $"% Invalid group number {number}, range is 0-{max} for HSRP version {current.HsrpVersion}\n");
            mode.Group = current.Groups.TryGetValue(number, out var g) ? g : current.Groups[number] = new FakeHsrpGroup();
            return Ok(id);
        }
        return Invalid(id);
    }

    private static JsonObject Ok(JsonNode id) => new() { ["jsonrpc"] = "2.0", ["result"] = null, ["id"] = id.DeepClone() };

    private static JsonObject Result(JsonNode id, string text) =>
        new() { ["jsonrpc"] = "2.0", ["result"] = new JsonObject { ["msg"] = text }, ["id"] = id.DeepClone() };

    private static JsonObject Invalid(JsonNode id) => Error(id, -32602, "Invalid params", "% Invalid command at '^' marker.\n");

    private static JsonObject Error(JsonNode? id, int code, string message, string msg) => new()
    {
        ["jsonrpc"] = "2.0",
        ["error"] = new JsonObject { ["code"] = code, ["message"] = message, ["data"] = new JsonObject { ["msg"] = msg } },
        ["id"] = id?.DeepClone(),
    };

    [GeneratedRegex(@"^show running-config interface vlan ?(\d+)$", RegexOptions.IgnoreCase)]
    private static partial Regex ShowSvi();

    [GeneratedRegex(@"^feature ([a-z-]+)$")]
    private static partial Regex FeatureLine();

    [GeneratedRegex(@"^interface vlan ?(\d+)$", RegexOptions.IgnoreCase)]
    private static partial Regex InterfaceLine();

    [GeneratedRegex(@"^hsrp version ([12])$")]
    private static partial Regex HsrpVersion();

    [GeneratedRegex(@"^hsrp (\d+)$")]
    private static partial Regex HsrpGroup();

    [GeneratedRegex(@"^ip (\d+\.\d+\.\d+\.\d+)$")]
    private static partial Regex GroupIp();

    [GeneratedRegex(@"^mac-address ([0-9a-fA-F]{4}\.[0-9a-fA-F]{4}\.[0-9a-fA-F]{4})$")]
    private static partial Regex GroupMac();

    [GeneratedRegex(@"^priority (\d+)$")]
    private static partial Regex GroupPriority();
}
