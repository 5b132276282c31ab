using System.Globalization;

namespace LispMobility.LinkEmulator;

/// <summary>
/// What the emulator does to the packets of one NFQUEUE queue: hold each for <see cref="Delay"/>, drop
/// <see cref="LossPercent"/> of them (each independently, as netem's plain <c>loss</c> does).
/// </summary>
public sealed record LinkEmulatorOptions(ushort Queue, TimeSpan Delay, double LossPercent, uint MaxLength, int? Seed)
{
    /// <summary>The command line: <c>--queue N --delay-ms MS --loss-percent P [--max-length N] [--seed N]</c>.</summary>
    public const string Usage = "usage: LispMobility.LinkEmulator --queue N --delay-ms MS --loss-percent P [--max-length N] [--seed N]";

    /// <summary>Parses and validates the command line; every problem at once, each naming its option.</summary>
    public static LinkEmulatorOptions Parse(IReadOnlyList<string> args, out List<string> errors)
    {
        errors = [];
        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        for (var i = 0; i < args.Count; i++)
        {
            if (args[i] is not ("--queue" or "--delay-ms" or "--loss-percent" or "--max-length" or "--seed"))
            {
                errors.Add($"{args[i]}: unknown option");
                if (i + 1 < args.Count && !args[i + 1].StartsWith("--", StringComparison.Ordinal)) i++; // its value, not another error
            }
            else if (i + 1 >= args.Count) errors.Add($"{args[i]}: needs a value");
            else values[args[i]] = args[++i];
        }

        var queue = Number(values, "--queue", null, 0, ushort.MaxValue, errors);
        var delay = Number(values, "--delay-ms", null, 0, 60_000, errors);
        var loss = Number(values, "--loss-percent", null, 0, 100, errors);
        var maxLength = Number(values, "--max-length", 4096, 1, 1_000_000, errors);
        var seed = values.ContainsKey("--seed") ? (int?)Number(values, "--seed", null, int.MinValue, int.MaxValue, errors) : null;
        return new LinkEmulatorOptions((ushort)queue, TimeSpan.FromMilliseconds(delay), loss, (uint)maxLength, seed);
    }

    private static double Number(Dictionary<string, string> values, string name, double? fallback, double min, double max, List<string> errors)
    {
        if (!values.TryGetValue(name, out var text))
        {
            if (fallback is null) errors.Add($"{name}: required");
            return fallback ?? 0;
        }

        if (!double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var value) || double.IsNaN(value))
        {
            errors.Add($"{name}: '{text}' is not a number");
            return 0;
        }

        if (value < min || value > max)
        {
            errors.Add($"{name}: {text} is outside {min.ToString(CultureInfo.InvariantCulture)}..{max.ToString(CultureInfo.InvariantCulture)}");
            return 0;
        }

        return value;
    }
}
