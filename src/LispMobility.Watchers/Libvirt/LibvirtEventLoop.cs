using System.Runtime.InteropServices;

namespace LispMobility.Watchers.Libvirt;

/// <summary>
/// libvirt's default event loop, which delivers domain events and notices closed connections. It is process-wide in
/// libvirt (registered once, run by one thread), so it is shared: the first <see cref="Acquire"/> starts its thread, the
/// last lease's disposal stops and joins it. A 250 ms timeout wakes the loop so that it sees the stop.
/// </summary>
internal static unsafe class LibvirtEventLoop
{
    private static readonly object Gate = new();
    private static bool _registered;
    private static int _leases;
    private static int _timer = -1;
    private static Thread? _thread;
    private static volatile bool _stop;

    /// <summary>Whether the loop's thread runs (some lease is held).</summary>
    public static bool IsRunning { get { lock (Gate) { return _thread is not null; } } }

    /// <summary>Starts the loop if it is not running; dispose the lease to stop it when no one else holds one.</summary>
    public static IDisposable Acquire()
    {
        lock (Gate)
        {
            if (!_registered)
            {
                // Before any connection: libvirt ties the events of a connection to the loop registered when it opened.
                LibvirtNative.virSetErrorFunc(0, &Silent);
                if (LibvirtNative.virEventRegisterDefaultImpl() < 0) throw new InvalidOperationException($"libvirt event loop: {LibvirtNative.LastError()}");
                _registered = true;
            }

            if (_leases++ == 0)
            {
                _stop = false;
                _timer = LibvirtNative.virEventAddTimeout(250, &Tick, 0, 0);
                _thread = new Thread(Run) { IsBackground = true, Name = "libvirt events" };
                _thread.Start();
            }

            return new Lease();
        }
    }

    private static void Release()
    {
        // Under the gate throughout, so that a new lease waits for the old thread to end (at most one 250 ms wake-up)
        // instead of starting a second thread on libvirt's one loop.
        lock (Gate)
        {
            if (--_leases > 0) return;
            _stop = true;
            _thread?.Join(TimeSpan.FromSeconds(5));
            _thread = null;
            if (_timer >= 0) LibvirtNative.virEventRemoveTimeout(_timer);
            _timer = -1;
        }
    }

    private static void Run()
    {
        while (!_stop)
        {
            if (LibvirtNative.virEventRunDefaultImpl() < 0) Thread.Sleep(100);
        }
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(System.Runtime.CompilerServices.CallConvCdecl)])]
    private static void Tick(int timer, nint opaque)
    {
        // Nothing to do: returning from the loop's wait is the point.
    }

    // libvirt prints every error to stderr unless told otherwise; the watcher reads and logs the ones it acts on.
    [UnmanagedCallersOnly(CallConvs = [typeof(System.Runtime.CompilerServices.CallConvCdecl)])]
    private static void Silent(nint userData, nint error)
    {
    }

    private sealed class Lease : IDisposable
    {
        private int _disposed;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _disposed, 1) == 0) Release();
        }
    }
}
