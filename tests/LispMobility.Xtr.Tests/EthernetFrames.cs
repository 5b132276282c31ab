using System.Runtime.InteropServices;
using System.Runtime.Versioning;
using LispMobility.Platform.DataPlane;

namespace LispMobility.Xtr.Tests;

/// <summary>Sends raw Ethernet frames out of an interface (AF_PACKET), in the calling thread's namespace: frames no IP stack would route.</summary>
[SupportedOSPlatform("linux")]
internal static unsafe partial class EthernetFrames
{
    /// <summary>Sends <paramref name="frame"/> <paramref name="count"/> times; returns how many the kernel took.</summary>
    public static int Send(string interfaceName, ReadOnlySpan<byte> frame, int count = 1)
    {
        var fd = AfPacket.Open();
        try
        {
            AfPacket.Bind(fd, (int)if_nametoindex(interfaceName), 0, interfaceName);
            var sent = 0;
            fixed (byte* f = frame)
            {
                for (var i = 0; i < count; i++)
                    if (send(fd, f, frame.Length, 0) == frame.Length) sent++;
            }

            return sent;
        }
        finally
        {
            AfPacket.close(fd);
        }
    }

    [LibraryImport("libc", SetLastError = true)]
    private static partial nint send(int fd, void* buffer, nint length, int flags);

    [LibraryImport("libc", StringMarshalling = StringMarshalling.Utf8)]
    private static partial uint if_nametoindex(string name);
}
