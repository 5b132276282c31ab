using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;

namespace LispMobility.Agent.Cli;

/// <summary><c>failover</c> and <c>failback</c>: the agent plans and runs them; this prints the plan or the outcome as a table and a summary, or JSON.</summary>
internal static class FailoverCommand
{
    private static readonly JsonSerializerOptions Pretty = new() { WriteIndented = true };

    /// <summary>Exit codes: 0 done, 1 some EID did not converge (or the agent is unreachable), 2 a refused request, 3 nothing to move or a live source site.</summary>
    public static async Task<int> RunAsync(FileInfo config, string from, string to, bool dryRun, bool force, IReadOnlyList<string> eids, bool json,
        TextWriter output, CancellationToken ct)
    {
        using var client = ClientCommands.Client(config, out var error);
        if (client is null) return ClientCommands.Fail(error!);
        HttpResponseMessage response;
        try
        {
            response = await client.PostAsJsonAsync(new Uri("/api/failover", UriKind.Relative), new { from, to, dryRun, eids, force }, ct).ConfigureAwait(false);
        }
        catch (HttpRequestException e)
        {
            return ClientCommands.Fail(ClientCommands.NotAnswering(client, e));
        }

        using var _ = response;
        var body = await response.Content.ReadAsStringAsync(ct).ConfigureAwait(false);
        if (!response.IsSuccessStatusCode)
        {
            ClientCommands.Fail(ClientCommands.Refused(response, body, config));
            return response.StatusCode switch { HttpStatusCode.BadRequest => 2, HttpStatusCode.Conflict => 3, _ => 1 };
        }

        using var first = JsonDocument.Parse(body);
        if (dryRun)
        {
            if (json) output.WriteLine(JsonSerializer.Serialize(first.RootElement, Pretty));
            else WritePlan(first.RootElement, output);
            return 0;
        }

        var id = first.RootElement.GetProperty("id").GetString()!;
        JsonElement last;
        while (true)
        {
            using var poll = await client.GetAsync(new Uri($"/api/failover/{id}", UriKind.Relative), ct).ConfigureAwait(false);
            using var doc = JsonDocument.Parse(await poll.Content.ReadAsStringAsync(ct).ConfigureAwait(false));
            last = doc.RootElement.Clone();
            if (last.GetProperty("done").GetBoolean()) break;
            if (!json && !Console.IsErrorRedirected)
            {
                await Console.Error.WriteAsync(string.Create(CultureInfo.InvariantCulture,
                    $"\r{from} -> {to}: {last.GetProperty("moved").GetInt32()} of {last.GetProperty("total").GetInt32()} moved, {last.GetProperty("failed").GetInt32()} failed")).ConfigureAwait(false);
            }

            await Task.Delay(200, ct).ConfigureAwait(false);
        }

        if (!json && !Console.IsErrorRedirected) await Console.Error.WriteAsync("\r").ConfigureAwait(false);
        if (json) output.WriteLine(JsonSerializer.Serialize(last, Pretty));
        else WriteReport(last, output);
        return last.GetProperty("converged").GetBoolean() ? 0 : 1;
    }

    private static void WritePlan(JsonElement plan, TextWriter output)
    {
        var moves = plan.GetProperty("moves").EnumerateArray().ToList();
        var left = plan.GetProperty("left").EnumerateArray().ToList();
        PlainTable.Write(output, ["eid", "range", "known from"],
            moves.Select(m => (IReadOnlyList<string>)[m.GetProperty("eid").GetString()!, m.GetProperty("range").GetString()!, m.GetProperty("source").GetString()!]));
        foreach (var l in left) output.WriteLine($"left: {l.GetProperty("eid").GetString()}: {l.GetProperty("reason").GetString()}");
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"Dry run {plan.GetProperty("from").GetString()} -> {plan.GetProperty("to").GetString()}: {moves.Count} EID(s) would move{(left.Count > 0 ? $", {left.Count} left where they are" : "")}; nothing was changed"));
    }

    private static void WriteReport(JsonElement report, TextWriter output)
    {
        var reasons = report.GetProperty("notConverged").EnumerateArray().ToDictionary(n => n.GetProperty("eid").GetString()!, n => n.GetProperty("reason").GetString() ?? "");
        var rows = report.GetProperty("moves").EnumerateArray().Select(m => (IReadOnlyList<string>)
        [
            m.GetProperty("eid").GetString()!, m.GetProperty("outcome").GetString()!, Durations.Milliseconds(m.GetProperty("elapsedMs").GetDouble()),
            m.GetProperty("error").GetString() ?? reasons.GetValueOrDefault(m.GetProperty("eid").GetString()!, ""),
        ]).ToList();
        rows.AddRange(reasons.Where(r => !rows.Any(x => x[0] == r.Key)).Select(r => (IReadOnlyList<string>)[r.Key, "not moved", "", r.Value]));
        PlainTable.Write(output, ["eid", "result", "time", "detail"], rows);
        var (total, moved, verified) = (report.GetProperty("total").GetInt32(), report.GetProperty("moved").GetInt32(), report.GetProperty("verified").GetInt32());
        var elapsed = report.TryGetProperty("elapsedMs", out var e) && e.ValueKind == JsonValueKind.Number ? Durations.Milliseconds(e.GetDouble()) : "?";
        var error = report.GetProperty("error").GetString();
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{report.GetProperty("from").GetString()} -> {report.GetProperty("to").GetString()}: {moved} of {total} EID(s) moved, {verified} verified by Map-Request, in {elapsed}") +
            (report.GetProperty("converged").GetBoolean() ? "" : error is not null ? $"; FAILED: {error}" : "; NOT CONVERGED (see the rows above; `lispmobility moves` has each step)"));
    }
}
