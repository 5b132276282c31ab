using System.Globalization;
using System.Net;
using System.Text.Json;
using LispMobility.Agent.Hosting;
using LispMobility.Agent.Security;
using Microsoft.Extensions.Configuration;

namespace LispMobility.Agent.Cli;

/// <summary>The verbs that talk to a running agent through its management API, and the standalone lig.</summary>
internal static class ClientCommands
{
    /// <summary>
    /// The <c>--config</c> every verb reads when none is given: where the installers put it, /etc/lispmobility/appsettings.json,
    /// or %ProgramData%\LispMobility\appsettings.json on Windows (installer/windows/install.ps1).
    /// </summary>
    public static string DefaultConfig =>
        DefaultConfigFor(OperatingSystem.IsWindows(), Environment.GetFolderPath(Environment.SpecialFolder.CommonApplicationData));

    /// <summary>The default config path on Windows (<paramref name="windows"/>, under <paramref name="programData"/>) or elsewhere.</summary>
    internal static string DefaultConfigFor(bool windows, string programData) =>
        windows ? $"{programData.TrimEnd('\\', '/')}\\LispMobility\\appsettings.json" : "/etc/lispmobility/appsettings.json";

    private static readonly JsonSerializerOptions Pretty = new() { WriteIndented = true };

    /// <summary>GETs <paramref name="path"/> and prints it as JSON, or as plain columns of <paramref name="columns"/> (all when empty).</summary>
    public static Task<int> ShowAsync(FileInfo config, string path, bool json, string[] columns, TextWriter output, CancellationToken ct) =>
        ShowAsync(config, path, json, (root, o) => Generic(root, columns, o), output, ct);

    /// <summary>GETs <paramref name="path"/> and prints it as JSON or through <paramref name="render"/>.</summary>
    public static async Task<int> ShowAsync(FileInfo config, string path, bool json, Action<JsonElement, TextWriter> render, TextWriter output, CancellationToken ct,
        HttpMethod? method = null)
    {
        using var client = Client(config, out var error);
        if (client is null) return Fail(error!);
        HttpResponseMessage response;
        try
        {
            using var request = new HttpRequestMessage(method ?? HttpMethod.Get, new Uri(path, UriKind.Relative));
            response = await client.SendAsync(request, ct).ConfigureAwait(false);
        }
        catch (HttpRequestException e)
        {
            return Fail(NotAnswering(client, e));
        }

        using (response)
        {
            var body = await response.Content.ReadAsStringAsync(ct).ConfigureAwait(false);
            if (!response.IsSuccessStatusCode) return Fail(Refused(response, body, config));
            using var doc = JsonDocument.Parse(body);
            if (json) output.WriteLine(JsonSerializer.Serialize(doc.RootElement, Pretty));
            else render(doc.RootElement, output);
            return 0;
        }
    }

    /// <summary>A list as columns, one object as "key: value" lines; nested values flattened to text, never JSON.</summary>
    internal static void Generic(JsonElement root, string[] columns, TextWriter output)
    {
        if (root.ValueKind != JsonValueKind.Array)
        {
            var width = root.ValueKind == JsonValueKind.Object ? root.EnumerateObject().Max(p => Header(p.Name).Length) : 0;
            if (root.ValueKind == JsonValueKind.Object)
            {
                foreach (var p in root.EnumerateObject()) output.WriteLine($"{(Header(p.Name).ToLowerInvariant() + ":").PadRight(width + 2)}{Text(p.Value)}");
            }
            else output.WriteLine(Text(root));
            return;
        }

        var rows = root.EnumerateArray().ToList();
        var cols = columns.Length > 0 ? columns : rows.Count > 0 && rows[0].ValueKind == JsonValueKind.Object ? rows[0].EnumerateObject().Select(p => p.Name).ToArray() : ["value"];
        PlainTable.Write(output, cols.Select(Header).ToList(),
            rows.Select(r => (IReadOnlyList<string>)cols.Select(c => r.ValueKind == JsonValueKind.Object && r.TryGetProperty(c, out var v) ? Text(v) : "").ToList()));
    }

    /// <summary>"lastRegistered" as "last registered", "durationMs" as "duration ms".</summary>
    internal static string Header(string name) =>
        string.Concat(name.Select((c, i) => i > 0 && char.IsUpper(c) ? " " + char.ToLowerInvariant(c) : c.ToString()));

    internal static HttpClient? Client(FileInfo config, out string? error, TimeSpan? timeout = null)
    {
        error = null;
        if (!config.Exists)
        {
            error = $"configuration file not found: {config.FullName} (give --config)";
            return null;
        }

        var root = new ConfigurationBuilder().AddJsonFile(config.FullName, optional: false).Build();
        var options = ManagementApiOptions.FromConfiguration(root, out var errors);
        if (options is null || errors.Count > 0)
        {
            error = string.Join(Environment.NewLine, errors);
            return null;
        }

        try
        {
            return ManagementApi.CreateClient(options, ApiToken.Read(options.TokenFile), timeout);
        }
        catch (ApiTokenException e)
        {
            error = e.Message;
            return null;
        }
    }

    internal static string NotAnswering(HttpClient client, HttpRequestException e) =>
        $"the agent's management API at {client.BaseAddress} does not answer: {e.Message} (is `lispmobility run` running with this --config?)";

    /// <summary>A refused request in one line: the problem's detail rather than its JSON, and what to do about a 401.</summary>
    internal static string Refused(HttpResponseMessage response, string body, FileInfo config)
    {
        var detail = body;
        try
        {
            using var doc = JsonDocument.Parse(body);
            if (doc.RootElement.ValueKind == JsonValueKind.Object && doc.RootElement.TryGetProperty("detail", out var d) && d.GetString() is { Length: > 0 } text) detail = text;
        }
        catch (JsonException)
        {
            // Not JSON: the body as it came.
        }

        var status = $"{(int)response.StatusCode} {response.ReasonPhrase}";
        return response.StatusCode == HttpStatusCode.Unauthorized
            ? $"{status}: the agent refused the API token (ManagementApi.TokenFile of {config.FullName}); use the --config of the running agent, " +
              "or run as a user who can read its token file (sudo), or restart the agent after re-creating the token"
            : detail.Length > 0 ? $"{status}: {detail}" : status;
    }

    /// <summary>A value as a cell: times to the second in UTC, fractions to one decimal, objects as "key value" pairs.</summary>
    internal static string Text(JsonElement v) => v.ValueKind switch
    {
        JsonValueKind.Array => string.Join(", ", v.EnumerateArray().Select(Text)),
        JsonValueKind.Object => string.Join(" ", v.EnumerateObject().Where(p => p.Value.ValueKind != JsonValueKind.Null).Select(p => $"{Header(p.Name).ToLowerInvariant()} {Text(p.Value)}")),
        JsonValueKind.Null => "",
        JsonValueKind.String when v.GetString() is { Length: > 18 } s && s[10] == 'T' && DateTimeOffset.TryParse(s, CultureInfo.InvariantCulture, DateTimeStyles.None, out var t) =>
            t.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss'Z'", CultureInfo.InvariantCulture),
        JsonValueKind.String => v.GetString() ?? "",
        JsonValueKind.Number when v.TryGetInt64(out var n) => n.ToString(CultureInfo.InvariantCulture),
        JsonValueKind.Number => v.GetDouble().ToString("0.0", CultureInfo.InvariantCulture),
        _ => v.GetRawText(),
    };

    internal static int Fail(string message)
    {
        Console.Error.WriteLine($"lispmobility: {message}");
        return 1;
    }
}
