using System.Globalization;

namespace LispMobility.Agent.Cli;

/// <summary>Ages and durations as network engineers write them: 00:03:12 under a day, 2d04h beyond, 12.3 ms for a step.</summary>
internal static class Durations
{
    public static string Age(TimeSpan t)
    {
        if (t < TimeSpan.Zero) t = TimeSpan.Zero;
        return t.TotalDays >= 1
            ? string.Create(CultureInfo.InvariantCulture, $"{(int)t.TotalDays}d{t.Hours:00}h")
            : string.Create(CultureInfo.InvariantCulture, $"{(int)t.TotalHours:00}:{t.Minutes:00}:{t.Seconds:00}");
    }

    public static string Milliseconds(double ms) => ms >= 1000
        ? string.Create(CultureInfo.InvariantCulture, $"{ms / 1000:0.00} s")
        : string.Create(CultureInfo.InvariantCulture, $"{ms:0.0} ms");
}
