using System.Runtime.InteropServices;

namespace LispMobility.Watchers.Libvirt;

/// <summary>
/// The few entry points of libvirt's C API (libvirt.so.0, Debian's libvirt0) the watcher uses; no .NET binding is served.
/// Pointers are opaque handles; strings libvirt returns as "char *" are the caller's to free, "const char *" are not.
/// </summary>
internal static unsafe partial class LibvirtNative
{
    private const string Lib = "libvirt.so.0";

    // virDomainEventID, virDomainEventType and their details (libvirt-domain.h).
    public const int EventIdLifecycle = 0;
    public const int ListActive = 1;
    public const int UuidStringLength = 37;

    [LibraryImport(Lib)] public static partial int virEventRegisterDefaultImpl();
    [LibraryImport(Lib)] public static partial int virEventRunDefaultImpl();
    [LibraryImport(Lib)] public static partial int virEventAddTimeout(int timeoutMs, delegate* unmanaged[Cdecl]<int, nint, void> callback, nint opaque, nint free);
    [LibraryImport(Lib)] public static partial int virEventRemoveTimeout(int timer);

    [LibraryImport(Lib, StringMarshalling = StringMarshalling.Utf8)] public static partial nint virConnectOpen(string uri);
    [LibraryImport(Lib)] public static partial int virConnectClose(nint conn);
    [LibraryImport(Lib)] public static partial int virConnectIsAlive(nint conn);
    [LibraryImport(Lib)] public static partial nint virConnectGetHostname(nint conn);
    [LibraryImport(Lib)] public static partial int virConnectSetKeepAlive(nint conn, int interval, uint count);
    [LibraryImport(Lib)] public static partial int virConnectRegisterCloseCallback(nint conn, delegate* unmanaged[Cdecl]<nint, int, nint, void> callback, nint opaque, nint free);
    [LibraryImport(Lib)] public static partial int virConnectUnregisterCloseCallback(nint conn, delegate* unmanaged[Cdecl]<nint, int, nint, void> callback);
    [LibraryImport(Lib)] public static partial int virConnectDomainEventRegisterAny(nint conn, nint dom, int eventId, delegate* unmanaged[Cdecl]<nint, nint, int, int, nint, int> callback, nint opaque, nint free);
    [LibraryImport(Lib)] public static partial int virConnectDomainEventDeregisterAny(nint conn, int callbackId);
    [LibraryImport(Lib)] public static partial int virConnectListAllDomains(nint conn, out nint domains, uint flags);

    [LibraryImport(Lib)] public static partial nint virDomainGetName(nint dom);
    [LibraryImport(Lib)] public static partial int virDomainGetUUIDString(nint dom, byte* buffer);
    [LibraryImport(Lib)] public static partial int virDomainIsActive(nint dom);
    [LibraryImport(Lib)] public static partial int virDomainFree(nint dom);
    [LibraryImport(Lib, StringMarshalling = StringMarshalling.Utf8)] public static partial nint virDomainLookupByUUIDString(nint conn, string uuid);
    [LibraryImport(Lib)] public static partial int virDomainInterfaceAddresses(nint dom, out nint interfaces, uint source, uint flags);
    [LibraryImport(Lib)] public static partial void virDomainInterfaceFree(nint iface);

    [LibraryImport(Lib)] public static partial nint virGetLastErrorMessage();
    [LibraryImport(Lib)] public static partial void virSetErrorFunc(nint userData, delegate* unmanaged[Cdecl]<nint, nint, void> handler);

    [LibraryImport("libc.so.6")] public static partial void free(nint pointer);

    /// <summary>virDomainInterface.</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct DomainInterface
    {
        public nint Name;
        public nint HwAddr;
        public uint AddressCount;
        public DomainIpAddress* Addresses;
    }

    /// <summary>virDomainIPAddress (type 0: IPv4, 1: IPv6).</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct DomainIpAddress
    {
        public int Type;
        public nint Address;
        public uint Prefix;
    }

    /// <summary>The calling thread's last libvirt error, one line.</summary>
    public static string LastError() => Marshal.PtrToStringUTF8(virGetLastErrorMessage()) ?? "unknown libvirt error";

    /// <summary>A "char *" libvirt allocated: read, then freed.</summary>
    public static string? TakeString(nint text)
    {
        if (text == 0) return null;
        try
        {
            return Marshal.PtrToStringUTF8(text);
        }
        finally
        {
            free(text);
        }
    }
}
