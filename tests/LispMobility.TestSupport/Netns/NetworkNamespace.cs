using System.Diagnostics;
using System.Runtime.InteropServices;

namespace LispMobility.TestSupport.Netns;

/// <summary>
/// A network namespace made for one test (unique name, deleted on dispose), with a way to run code on a thread
/// that has entered it through setns(2) — the way the agent's netlink code is meant to be hosted inside a namespace.
/// </summary>
public sealed partial class NetworkNamespace : IDisposable
{
    private const int CloneNewnet = 0x40000000;

    private NetworkNamespace(string name) => Name = name;

    public string Name { get; }

    /// <summary>Creates the namespace; fails loudly (never skips) when the machine cannot, since CI runs as root.</summary>
    public static NetworkNamespace Create(string prefix = "lmtest")
    {
        var name = $"{prefix}-{Guid.NewGuid().ToString("N")[..8]}";
        Run("ip", $"netns add {name}");
        return new NetworkNamespace(name);
    }

    /// <summary>Runs <c>ip -n NAME args</c> and returns its output; throws with stderr when it fails.</summary>
    public string Ip(string arguments) => Run("ip", $"-n {Name} {arguments}");

    /// <summary>Runs a command inside the namespace (<c>ip netns exec</c>), e.g. to read a sysctl independently.</summary>
    public string Exec(string command) => Run("ip", $"netns exec {Name} {command}");

    /// <summary>Runs <paramref name="work"/> on a fresh thread that entered this namespace, and returns its result.</summary>
    public T Enter<T>(Func<T> work)
    {
        T result = default!;
        Exception? failure = null;
        var thread = new Thread(() =>
        {
            try
            {
                using var handle = File.OpenHandle($"/var/run/netns/{Name}");
                if (setns((int)handle.DangerousGetHandle(), CloneNewnet) != 0)
                    throw new InvalidOperationException($"setns into {Name} failed: errno {Marshal.GetLastPInvokeError()}");
                result = work();
            }
            catch (Exception e)
            {
                failure = e;
            }
        });
        thread.Start();
        thread.Join();
        if (failure is not null) throw new AggregateException(failure).InnerException!;
        return result;
    }

    /// <summary>Runs <paramref name="work"/> on a fresh thread inside this namespace.</summary>
    public void Enter(Action work) => Enter(() => { work(); return 0; });

    public static string Run(string file, string arguments)
    {
        using var process = Process.Start(new ProcessStartInfo(file, arguments)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        }) ?? throw new InvalidOperationException($"cannot start {file}");
        var output = process.StandardOutput.ReadToEnd();
        var error = process.StandardError.ReadToEnd();
        process.WaitForExit();
        return process.ExitCode == 0 ? output : throw new InvalidOperationException($"{file} {arguments} exited {process.ExitCode}: {error}");
    }

    public void Dispose() => Run("ip", $"netns del {Name}");

    [LibraryImport("libc", SetLastError = true)]
    private static partial int setns(int fd, int nstype);
}
