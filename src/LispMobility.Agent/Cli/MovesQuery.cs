using System.Globalization;
using System.Net;
using System.Text.RegularExpressions;

namespace LispMobility.Agent.Cli;

/// <summary>
/// The filters of `lispmobility moves`, checked before anything is asked of the agent: an EID that is not an address or a
/// time that is not one is an error that says what to write, never an empty table.
/// </summary>
internal static partial class MovesQuery
{
    /// <summary>Rows shown when --limit is not given.</summary>
    public const int DefaultLimit = 50;

    /// <summary>The API path for the filters, newest first; or null with <paramref name="error"/> naming the bad option.</summary>
    public static string? Path(string? eid, string? vm, string? site, string? since, int? limit, DateTimeOffset now, out string? error)
    {
        error = null;
        if (eid is not null && !IPAddress.TryParse(eid, out _))
        {
            error = $"--eid: '{eid}' is not an IP address (e.g. 172.16.4.10 or 2001:db8::10)";
            return null;
        }

        DateTimeOffset? from = null;
        if (since is not null)
        {
            from = ParseSince(since, now);
            if (from is null)
            {
                error = $"--since: '{since}' is not a time: give an age such as 30m, 2h or 7d, or an ISO 8601 time such as 2026-12-04T09:00Z";
                return null;
            }
        }

        if (limit is < 1)
        {
            error = $"--limit: {limit} must be 1 or more";
            return null;
        }

        var query = new List<string> { "newest=true", $"limit={(limit ?? DefaultLimit).ToString(CultureInfo.InvariantCulture)}" };
        if (eid is not null) query.Add("eid=" + Uri.EscapeDataString(eid));
        if (vm is not null) query.Add("vm=" + Uri.EscapeDataString(vm));
        if (site is not null) query.Add("site=" + Uri.EscapeDataString(site));
        if (from is { } f) query.Add("since=" + Uri.EscapeDataString(f.ToString("o", CultureInfo.InvariantCulture)));
        return "/api/moves?" + string.Join("&", query);
    }

    /// <summary>An age back from <paramref name="now"/> (45s, 30m, 2h, 7d) or an ISO 8601 time; null when it is neither.</summary>
    public static DateTimeOffset? ParseSince(string text, DateTimeOffset now)
    {
        var age = Age().Match(text.Trim());
        if (age.Success)
        {
            var n = double.Parse(age.Groups[1].Value, CultureInfo.InvariantCulture);
            return now - age.Groups[2].Value switch
            {
                "s" => TimeSpan.FromSeconds(n),
                "m" => TimeSpan.FromMinutes(n),
                "h" => TimeSpan.FromHours(n),
                _ => TimeSpan.FromDays(n),
            };
        }

        return DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var time) ? time : null;
    }

    [GeneratedRegex("^([0-9]+(?:\\.[0-9]+)?)([smhd])$", RegexOptions.CultureInvariant)]
    private static partial Regex Age();
}
