using System.Runtime.InteropServices;
using System.Runtime.Versioning;

namespace LispMobility.Platform;

/// <summary>An interface's index by name in the calling thread's network namespace (<c>if_nametoindex</c>): 0 when there is none.</summary>
[SupportedOSPlatform("linux")]
internal static partial class InterfaceIndex
{
    /// <summary>The index of <paramref name="name"/>, or 0.</summary>
    public static int Of(string name) => (int)if_nametoindex(name);

    [LibraryImport("libc", StringMarshalling = StringMarshalling.Utf8)]
    private static partial uint if_nametoindex(string name);
}
