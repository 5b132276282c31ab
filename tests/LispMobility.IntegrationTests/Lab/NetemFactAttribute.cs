namespace LispMobility.IntegrationTests.Lab;

/// <summary>
/// A fact that needs tc netem: skipped, with the reason, on a kernel built without sch_netem (the only capability of
/// the lab a machine can lack; everything else is iproute2 on any Linux kernel).
/// </summary>
public sealed class NetemFactAttribute : FactAttribute
{
    private static readonly Lazy<string?> Missing = new(Probe);

    /// <summary>Probes once per test run.</summary>
    public NetemFactAttribute()
    {
        if (Missing.Value is { } reason) Skip = reason;
    }

    private static string? Probe()
    {
        var ns = $"{NetnsLab.NamePrefix}probe{Environment.ProcessId}";
        try
        {
            Run("ip", "netns", "add", ns);
            Run("ip", "-n", ns, "link", "add", "probe0", "type", "veth", "peer", "name", "probe1");
            var r = NetnsLab.RunAsync("tc", ["-n", ns, "qdisc", "add", "dev", "probe0", "root", "netem", "delay", "1ms"], TimeSpan.FromSeconds(10)).GetAwaiter().GetResult();
            return r.ExitCode == 0 ? null : $"this kernel has no tc netem qdisc (CONFIG_NET_SCH_NETEM): {r.Error.Trim()}";
        }
        finally
        {
            NetnsLab.RunAsync("ip", ["netns", "del", ns], TimeSpan.FromSeconds(10)).GetAwaiter().GetResult();
        }
    }

    private static void Run(string file, params string[] args)
    {
        var r = NetnsLab.RunAsync(file, args, TimeSpan.FromSeconds(10)).GetAwaiter().GetResult();
        if (r.ExitCode != 0) throw new InvalidOperationException($"{file} {string.Join(' ', args)}: {r}");
    }
}
