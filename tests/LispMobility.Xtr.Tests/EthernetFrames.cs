using System.Runtime.InteropServices;
using System.Runtime.Versioning;

namespace LispMobility.Xtr.Tests;

/// <summary>Sends one raw Ethernet frame out of an interface (AF_PACKET), in the calling thread's namespace: frames no IP stack would route.</summary>
[SupportedOSPlatform("linux")]
internal static unsafe partial class EthernetFrames
{
    public static void Send(string interfaceName, ReadOnlySpan<byte> frame)
    {
        var fd = socket(17 /* AF_PACKET */, 3 /* SOCK_RAW */, 0);
        if (fd < 0) throw new IOException($"AF_PACKET socket: errno {Marshal.GetLastPInvokeError()}");
        try
        {
            var address = stackalloc byte[20];
            new Span<byte>(address, 20).Clear();
            *(ushort*)address = 17;
            *(int*)(address + 4) = (int)if_nametoindex(interfaceName);
            if (bind(fd, address, 20) < 0) throw new IOException($"bind {interfaceName}: errno {Marshal.GetLastPInvokeError()}");
            fixed (byte* f = frame)
                if (send(fd, f, frame.Length, 0) != frame.Length) throw new IOException($"send on {interfaceName}: errno {Marshal.GetLastPInvokeError()}");
        }
        finally
        {
            close(fd);
        }
    }

    [LibraryImport("libc", SetLastError = true)]
    private static partial int socket(int domain, int type, int protocol);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int bind(int fd, void* address, int length);

    [LibraryImport("libc", SetLastError = true)]
    private static partial nint send(int fd, void* buffer, nint length, int flags);

    [LibraryImport("libc", StringMarshalling = StringMarshalling.Utf8)]
    private static partial uint if_nametoindex(string name);

    [LibraryImport("libc")]
    private static partial int close(int fd);
}
