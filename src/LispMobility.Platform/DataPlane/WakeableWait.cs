using System.Runtime.InteropServices;
using System.Runtime.Versioning;

namespace LispMobility.Platform.DataPlane;

/// <summary>
/// A reader's wait on one descriptor that any thread can end early: <c>poll</c> on the descriptor and an eventfd, which
/// <see cref="Wake"/> signals (e.g. when an answer for packets held on a map-cache miss arrived). The data plane's one
/// <c>poll</c>: <see cref="Readable"/> waits on a descriptor alone.
/// </summary>
[SupportedOSPlatform("linux")]
internal sealed unsafe partial class WakeableWait : IDisposable
{
    private const int EfdNonblock = 0x800, EfdCloexec = 0x80000;
    private const short PollIn = 1, PollErr = 8;
    private readonly int _wake;

    public WakeableWait()
    {
        _wake = eventfd(0, EfdNonblock | EfdCloexec);
        if (_wake < 0) throw new IOException($"eventfd: errno {Marshal.GetLastPInvokeError()}");
    }

    /// <summary>Waits up to <paramref name="timeoutMs"/> for <paramref name="fd"/> to be readable or a wake; false on timeout.</summary>
    public bool Wait(int fd, int timeoutMs)
    {
        var fds = stackalloc PollFd[2];
        fds[0] = new PollFd { Fd = fd, Events = PollIn | PollErr };
        fds[1] = new PollFd { Fd = _wake, Events = PollIn };
        if (poll(fds, 2, timeoutMs) <= 0) return false;
        if ((fds[1].Revents & PollIn) != 0)
        {
            ulong drained;
            _ = read(_wake, &drained, sizeof(ulong));
        }

        return true;
    }

    /// <summary>Waits up to <paramref name="timeoutMs"/> for <paramref name="fd"/> alone to be readable; false on timeout (or a signal).</summary>
    public static bool Readable(int fd, int timeoutMs)
    {
        var pollFd = new PollFd { Fd = fd, Events = PollIn };
        return poll(&pollFd, 1, timeoutMs) > 0;
    }

    /// <summary>Ends the current or next <see cref="Wait"/> at once; from any thread.</summary>
    public void Wake()
    {
        ulong one = 1;
        _ = write(_wake, &one, sizeof(ulong));
    }

    public void Dispose() => close(_wake);

    [StructLayout(LayoutKind.Sequential)]
    private struct PollFd
    {
        public int Fd;
        public short Events;
        public short Revents;
    }

    [LibraryImport("libc", SetLastError = true)]
    private static partial int eventfd(uint initial, int flags);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int poll(PollFd* fds, nuint count, int timeout);

    [LibraryImport("libc", SetLastError = true)]
    private static partial nint read(int fd, void* buffer, nint count);

    [LibraryImport("libc", SetLastError = true)]
    private static partial nint write(int fd, void* buffer, nint count);

    [LibraryImport("libc")]
    private static partial int close(int fd);
}
