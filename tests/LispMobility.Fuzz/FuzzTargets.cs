namespace LispMobility.Fuzz;

/// <summary>The fuzz targets by the name scripts/fuzz.sh and the regression tests use.</summary>
public static class FuzzTargets
{
    private delegate void Target(ReadOnlySpan<byte> input);

    private static readonly Dictionary<string, Target> All = new(StringComparer.Ordinal)
    {
        ["map-register"] = WireTargets.MapRegister,
        ["map-notify"] = WireTargets.MapNotify,
        ["map-notify-ack"] = WireTargets.MapNotifyAck,
        ["map-request"] = WireTargets.MapRequest,
        ["map-reply"] = WireTargets.MapReply,
        ["ecm"] = WireTargets.Ecm,
        ["data-header"] = WireTargets.DataHeader,
        ["address"] = WireTargets.Address,
        ["map-server"] = EngineTargets.MapServer,
        ["xtr"] = EngineTargets.Xtr,
    };

    /// <summary>Every target's name.</summary>
    public static IReadOnlyCollection<string> Names => All.Keys;

    /// <summary>Runs <paramref name="input"/> through <paramref name="target"/>; throws on a bug (a crash for afl).</summary>
    public static void Run(string target, ReadOnlySpan<byte> input)
    {
        if (!All.TryGetValue(target, out var run)) throw new ArgumentException($"no fuzz target '{target}' (one of: {string.Join(", ", All.Keys)})", nameof(target));
        run(input);
    }

    /// <summary>The engine configuration the map-server target uses (the tshark test replays the corpus through it).</summary>
    public static MappingSystem.Configuration.MapServerOptions MapServerOptions() => EngineTargets.MapServerOptions();

    /// <summary>What the map-server target's engine sends for <paramref name="input"/>: destination and bytes.</summary>
    public static IReadOnlyList<(System.Net.IPEndPoint To, byte[] Payload)> MapServerReplies(ReadOnlySpan<byte> input) =>
        EngineTargets.MapServerOutput(input).Select(d => (d.Destination, d.Payload.ToArray())).ToList();

    /// <summary>The key every site of the engine targets shares.</summary>
    public static string SiteKey => EngineTargets.SiteKey;
}
