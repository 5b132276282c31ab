using System.Net;
using System.Net.NetworkInformation;
using System.Runtime.InteropServices;
using System.Threading.Channels;

namespace LispMobility.Watchers.Libvirt;

/// <summary>A domain as the watcher reads it: its UUID, name, whether it runs, and what its interfaces carry.</summary>
internal sealed record LibvirtDomain(string Uuid, string Name, bool Running, IReadOnlyList<PhysicalAddress> Macs, IReadOnlyList<IPAddress> Addresses);

/// <summary>A lifecycle event as libvirt raised it (event type and detail of libvirt-domain.h).</summary>
internal readonly record struct LifecycleEvent(string Uuid, string Name, int Event, int Detail);

/// <summary>
/// One open libvirt connection with its lifecycle-event and close callbacks. Callbacks run on the event loop's thread and
/// only queue what they saw (<see cref="Events"/>, <see cref="Closed"/>); the watcher reads domains from its own thread.
/// </summary>
internal sealed unsafe class LibvirtConnection : IDisposable
{
    private readonly nint _conn;
    private readonly GCHandle _self;
    private readonly int _lifecycleId;
    private readonly bool _closeRegistered;
    private readonly TaskCompletionSource<int> _closed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _disposed;

    private LibvirtConnection(nint conn)
    {
        _conn = conn;
        _self = GCHandle.Alloc(this);
        var opaque = GCHandle.ToIntPtr(_self);
        _lifecycleId = LibvirtNative.virConnectDomainEventRegisterAny(conn, 0, LibvirtNative.EventIdLifecycle, &OnLifecycle, opaque, 0);
        if (_lifecycleId < 0)
        {
            var error = LibvirtNative.LastError();
            _self.Free();
            LibvirtNative.virConnectClose(conn);
            throw new LibvirtException($"lifecycle events: {error}");
        }

        // Local drivers (test:///, qemu:///system through its socket) may refuse keep-alives and close callbacks: both are
        // for remote connections, whose drop they report; a local one is checked with virConnectIsAlive instead.
        LibvirtNative.virConnectSetKeepAlive(conn, 5, 3);
        _closeRegistered = LibvirtNative.virConnectRegisterCloseCallback(conn, &OnClose, opaque, 0) == 0;
    }

    /// <summary>Opens <paramref name="uri"/> (the event loop must be running); throws <see cref="LibvirtException"/> with libvirt's reason.</summary>
    public static LibvirtConnection Open(string uri)
    {
        var conn = LibvirtNative.virConnectOpen(uri);
        if (conn == 0) throw new LibvirtException($"cannot connect to {uri}: {LibvirtNative.LastError()}");
        return new LibvirtConnection(conn);
    }

    /// <summary>Lifecycle events not read yet.</summary>
    public Channel<LifecycleEvent> Events { get; } = Channel.CreateUnbounded<LifecycleEvent>(new UnboundedChannelOptions { SingleReader = true });

    /// <summary>Completes (with libvirt's reason) when the connection closed under us.</summary>
    public Task<int> Closed => _closed.Task;

    /// <summary>False once the connection is known dead (closed callback, or libvirt says it is not alive).</summary>
    public bool IsAlive => !_closed.Task.IsCompleted && LibvirtNative.virConnectIsAlive(_conn) == 1;

    /// <summary>The host the connection reaches, as libvirt names it.</summary>
    public string? Hostname() => LibvirtNative.TakeString(LibvirtNative.virConnectGetHostname(_conn));

    /// <summary>Every running domain with its interfaces (read from <paramref name="sources"/>, first that answers).</summary>
    public IReadOnlyList<LibvirtDomain> RunningDomains(IReadOnlyList<uint> sources)
    {
        var count = LibvirtNative.virConnectListAllDomains(_conn, out var array, LibvirtNative.ListActive);
        if (count < 0) throw new LibvirtException($"listing domains: {LibvirtNative.LastError()}");
        var domains = new List<LibvirtDomain>(count);
        try
        {
            for (var i = 0; i < count; i++) domains.Add(Read(((nint*)array)[i], sources));
        }
        finally
        {
            for (var i = 0; i < count; i++) LibvirtNative.virDomainFree(((nint*)array)[i]);
            LibvirtNative.free(array);
        }

        return domains;
    }

    /// <summary>The domain with <paramref name="uuid"/>, or null when libvirt no longer knows it.</summary>
    public LibvirtDomain? Domain(string uuid, IReadOnlyList<uint> sources)
    {
        var dom = LibvirtNative.virDomainLookupByUUIDString(_conn, uuid);
        if (dom == 0) return null;
        try
        {
            return Read(dom, sources);
        }
        finally
        {
            LibvirtNative.virDomainFree(dom);
        }
    }

    private static LibvirtDomain Read(nint dom, IReadOnlyList<uint> sources)
    {
        var name = Marshal.PtrToStringUTF8(LibvirtNative.virDomainGetName(dom)) ?? "";
        var uuid = Uuid(dom);
        var running = LibvirtNative.virDomainIsActive(dom) == 1;
        var macs = new List<PhysicalAddress>();
        var addresses = new List<IPAddress>();
        if (running)
        {
            foreach (var source in sources)
            {
                ReadInterfaces(dom, source, macs, addresses);
                if (addresses.Count > 0) break;
            }
        }

        return new LibvirtDomain(uuid, name, running, macs, addresses);
    }

    private static string Uuid(nint dom)
    {
        var buffer = stackalloc byte[LibvirtNative.UuidStringLength];
        return LibvirtNative.virDomainGetUUIDString(dom, buffer) == 0 ? Marshal.PtrToStringUTF8((nint)buffer) ?? "" : "";
    }

    // A source the domain cannot answer from (no guest agent, no lease yet) is not an error: the next one is tried.
    private static void ReadInterfaces(nint dom, uint source, List<PhysicalAddress> macs, List<IPAddress> addresses)
    {
        var count = LibvirtNative.virDomainInterfaceAddresses(dom, out var array, source, 0);
        if (count <= 0) return;
        try
        {
            for (var i = 0; i < count; i++)
            {
                var iface = (LibvirtNative.DomainInterface*)((nint*)array)[i];
                if (Marshal.PtrToStringUTF8(iface->HwAddr) is { } hw && PhysicalAddress.TryParse(hw, out var mac) && !macs.Contains(mac)) macs.Add(mac);
                for (var a = 0; a < iface->AddressCount; a++)
                {
                    if (Marshal.PtrToStringUTF8(iface->Addresses[a].Address) is { } text && IPAddress.TryParse(text, out var ip) && !addresses.Contains(ip)) addresses.Add(ip);
                }
            }
        }
        finally
        {
            for (var i = 0; i < count; i++) LibvirtNative.virDomainInterfaceFree(((nint*)array)[i]);
            LibvirtNative.free(array);
        }
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(System.Runtime.CompilerServices.CallConvCdecl)])]
    private static int OnLifecycle(nint conn, nint dom, int type, int detail, nint opaque)
    {
        try
        {
            if (GCHandle.FromIntPtr(opaque).Target is LibvirtConnection self)
            {
                var name = Marshal.PtrToStringUTF8(LibvirtNative.virDomainGetName(dom)) ?? "";
                self.Events.Writer.TryWrite(new LifecycleEvent(Uuid(dom), name, type, detail));
            }
        }
        catch (Exception)
        {
            // Nothing may unwind into libvirt; an event lost here is recovered by the next inventory.
        }

        return 0;
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(System.Runtime.CompilerServices.CallConvCdecl)])]
    private static void OnClose(nint conn, int reason, nint opaque)
    {
        try
        {
            if (GCHandle.FromIntPtr(opaque).Target is LibvirtConnection self) self.MarkClosed(reason);
        }
        catch (Exception)
        {
            // As above.
        }
    }

    /// <summary>Records that the connection is gone (libvirt's close reason, or -1 when found dead otherwise).</summary>
    public void MarkClosed(int reason)
    {
        _closed.TrySetResult(reason);
        Events.Writer.TryComplete();
    }

    /// <inheritdoc />
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        LibvirtNative.virConnectDomainEventDeregisterAny(_conn, _lifecycleId);
        if (_closeRegistered) LibvirtNative.virConnectUnregisterCloseCallback(_conn, &OnClose);
        LibvirtNative.virConnectClose(_conn);
        MarkClosed(-1);
        _self.Free();
    }
}

/// <summary>A libvirt call that failed, with libvirt's own message.</summary>
public sealed class LibvirtException(string message) : Exception(message);
