namespace LispMobility.IntegrationTests.Lab;

/// <summary>
/// A fact that needs the lab's link impairment: tc netem, or on a kernel built without sch_netem its user-space
/// emulation (iptables NFQUEUE in a namespace + the LinkEmulator). Skipped, with the reason, only when neither works
/// (everything else of the lab is iproute2 on any Linux kernel).
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
            var tc = NetnsLab.RunAsync("tc", ["-n", ns, "qdisc", "add", "dev", "probe0", "root", "netem", "delay", "1ms"], TimeSpan.FromSeconds(10)).GetAwaiter().GetResult();
            if (tc.ExitCode == 0) return null;
            // The emulation's kernel side: an NFQUEUE target accepted in a namespace (CONFIG_NETFILTER_XT_TARGET_NFQUEUE).
            // The emulator itself is built with the tests; when it is missing the test fails instead of skipping.
            var iptables = NetnsLab.RunAsync("ip", ["netns", "exec", ns, "iptables", "-w", "-A", "OUTPUT", "-o", "probe0", "-j", "NFQUEUE", "--queue-num", "0"],
                TimeSpan.FromSeconds(10)).GetAwaiter().GetResult();
            return iptables.ExitCode == 0 ? null
                : $"this kernel has no tc netem qdisc (CONFIG_NET_SCH_NETEM): {tc.Error.Trim()}; and the emulation cannot run: iptables NFQUEUE in a namespace: {(iptables.Output + iptables.Error).Trim()}";
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
