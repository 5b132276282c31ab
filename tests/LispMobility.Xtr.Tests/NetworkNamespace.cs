using System.Diagnostics;
using System.Runtime.InteropServices;

namespace LispMobility.Xtr.Tests;

/// <summary>
/// A network namespace made for one test (unique name, deleted on dispose), and a way to run code on a thread that entered
/// it with setns(2). Same approach as the Fabric tests' helper, which is not in TestSupport yet.
/// </summary>
internal sealed partial class NetworkNamespace : IDisposable
{
    private const int CloneNewnet = 0x40000000;

    private NetworkNamespace(string name) => Name = name;

    public string Name { get; }

    /// <summary>Creates the namespace; fails loudly (never skips): CI runs as root.</summary>
    public static NetworkNamespace Create()
    {
        var name = $"lmxtr-{Guid.NewGuid().ToString("N")[..8]}";
        Run("ip", $"netns add {name}");
        return new NetworkNamespace(name);
    }

    /// <summary>Runs <c>ip -n NAME args</c>; throws with stderr when it fails.</summary>
    public string Ip(string arguments) => Run("ip", $"-n {Name} {arguments}");

    /// <summary>Runs <paramref name="work"/> on a fresh thread inside this namespace and returns its result.</summary>
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

    public void Enter(Action work) => Enter(() => { work(); return 0; });

    public static string Run(string file, string arguments)
    {
        using var process = Process.Start(new ProcessStartInfo(file, arguments) { RedirectStandardOutput = true, RedirectStandardError = true })
            ?? throw new InvalidOperationException($"cannot start {file}");
        var output = process.StandardOutput.ReadToEnd();
        var error = process.StandardError.ReadToEnd();
        process.WaitForExit();
        return process.ExitCode == 0 ? output : throw new InvalidOperationException($"{file} {arguments} exited {process.ExitCode}: {error}");
    }

    public void Dispose() => Run("ip", $"netns del {Name}");

    [LibraryImport("libc", SetLastError = true)]
    private static partial int setns(int fd, int nstype);
}
