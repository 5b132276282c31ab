using System.Net;
using System.Text;
using System.Text.Json;

namespace LispMobility.Fabric.NxOs;

/// <summary>
/// NX-API's JSON-RPC 2.0 framing: a request is an array with one object per command, numbered from 1.
/// Reads use method <c>cli_ascii</c> so the running configuration comes back as the text an operator knows
/// (structured <c>cli</c> output has no schema for <c>show running-config</c>); configuration uses <c>cli</c>.
/// </summary>
internal static class NxApiJsonRpc
{
    public const string ContentType = "application/json-rpc";

    public static string Request(string method, IReadOnlyList<string> commands)
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartArray();
            for (var i = 0; i < commands.Count; i++)
            {
                json.WriteStartObject();
                json.WriteString("jsonrpc", "2.0");
                json.WriteString("method", method);
                json.WriteStartObject("params");
                json.WriteString("cmd", commands[i]);
                json.WriteNumber("version", 1);
                json.WriteEndObject();
                json.WriteNumber("id", i + 1);
                json.WriteEndObject();
            }
            json.WriteEndArray();
        }
        return Encoding.UTF8.GetString(buffer.ToArray());
    }

    /// <summary>One command's outcome: its text output, or the device's error message.</summary>
    public sealed record Outcome(int Id, string? Text, string? Error);

    /// <summary>Parses a reply (an array, or a single object for one command); null when it is not JSON-RPC.</summary>
    public static IReadOnlyList<Outcome>? Outcomes(string body)
    {
        try
        {
            using var doc = JsonDocument.Parse(body);
            var items = doc.RootElement.ValueKind == JsonValueKind.Array
                ? doc.RootElement.EnumerateArray().ToList()
                : [doc.RootElement];
            var outcomes = new List<Outcome>();
            foreach (var item in items)
            {
                if (item.ValueKind != JsonValueKind.Object) return null;
                var id = item.TryGetProperty("id", out var idElement) && idElement.TryGetInt32(out var n) ? n : 0;
                if (item.TryGetProperty("error", out var error) && error.ValueKind == JsonValueKind.Object)
                    outcomes.Add(new Outcome(id, null, ErrorText(error)));
                else if (item.TryGetProperty("result", out var result))
                    outcomes.Add(new Outcome(id, ResultText(result), null));
                else return null;
            }
            return outcomes;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    /// <summary>The first error in a reply, as the device worded it; null when every command succeeded.</summary>
    public static string? FirstError(DeviceReplyView reply) =>
        Outcomes(reply.Body) is { } outcomes ? outcomes.FirstOrDefault(o => o.Error is not null)?.Error : null;

    /// <summary>True when a failed reply still carries JSON-RPC outcomes (NX-API answers HTTP 500 when any command fails).</summary>
    public static bool IsJsonRpcFailure(HttpStatusCode status, string body) =>
        status == HttpStatusCode.InternalServerError && Outcomes(body) is not null;

    private static string ErrorText(JsonElement error)
    {
        // data.msg holds the CLI's own words ("% Invalid command at '^' marker."); message is the generic JSON-RPC text.
        var message = error.TryGetProperty("message", out var m) && m.ValueKind == JsonValueKind.String ? m.GetString() : null;
        var msg = error.TryGetProperty("data", out var data) && data.ValueKind == JsonValueKind.Object
                  && data.TryGetProperty("msg", out var d) && d.ValueKind == JsonValueKind.String ? d.GetString()?.Trim() : null;
        return (message, msg) switch
        {
            (not null, not null and not "") => $"{message}: {msg}",
            (_, not null and not "") => msg,
            (not null, _) => message,
            _ => error.GetRawText(),
        };
    }

    private static string? ResultText(JsonElement result)
    {
        if (result.ValueKind != JsonValueKind.Object) return null; // config commands answer "result": null
        foreach (var name in new[] { "msg", "body" })
            if (result.TryGetProperty(name, out var text) && text.ValueKind == JsonValueKind.String)
                return text.GetString();
        return result.GetRawText();
    }
}

/// <summary>The parts of a device reply the JSON-RPC parser needs.</summary>
internal readonly record struct DeviceReplyView(HttpStatusCode Status, string Body);
