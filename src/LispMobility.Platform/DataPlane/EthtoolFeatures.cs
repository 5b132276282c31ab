using System.Runtime.InteropServices;
using System.Runtime.Versioning;
using System.Text;

namespace LispMobility.Platform.DataPlane;

/// <summary>
/// Turns off an interface's transmit offloads the ITR does not handle, by name (SIOCETHTOOL: ETHTOOL_GSTRINGS of the feature
/// set, then ETHTOOL_SFEATURES), so the kernel does that work before the packet reaches the device: every segmentation
/// but TCP's (and the generic software fallback), and with <c>keepTcp</c> false TCP's and the checksum offloads too.
/// </summary>
[SupportedOSPlatform("linux")]
internal static unsafe partial class EthtoolFeatures
{
    private const uint SiocEthtool = 0x8946;
    private const uint GetSetInfo = 0x37, GetStrings = 0x1b, SetFeatures = 0x3b;
    private const int FeatureSet = 4; // ETH_SS_FEATURES
    private const int StringLength = 32;
    private static readonly string[] TcpSegmentation = ["tx-tcp-segmentation", "tx-tcp6-segmentation", "tx-tcp-ecn-segmentation", "tx-tcp-mangleid-segmentation"];

    /// <summary>Turns the features off on <paramref name="name"/>; 0, or the errno of the ioctl that failed.</summary>
    public static int Restrict(string name, bool keepTcp)
    {
        var fd = socket(2, 2 | 0x80000, 0); // AF_INET, SOCK_DGRAM | SOCK_CLOEXEC: any socket carries the ioctl
        if (fd < 0) return Marshal.GetLastPInvokeError();
        try
        {
            Span<byte> ifreq = stackalloc byte[40];
            ifreq.Clear();
            Encoding.ASCII.GetBytes(name, ifreq);

            // How many features the kernel names.
            var info = stackalloc uint[5]; // cmd, reserved, u64 mask, data[1]
            new Span<uint>(info, 5).Clear();
            info[0] = GetSetInfo;
            *(ulong*)(info + 2) = 1UL << FeatureSet;
            if (Ioctl(fd, ifreq, info) is var e1 and not 0) return e1;
            var count = (int)info[4];

            var strings = (byte*)NativeMemory.AllocZeroed((nuint)(12 + count * StringLength));
            var blocks = (count + 31) / 32;
            var set = (uint*)NativeMemory.AllocZeroed((nuint)(8 + blocks * 8));
            try
            {
                ((uint*)strings)[0] = GetStrings;
                ((uint*)strings)[1] = FeatureSet;
                ((uint*)strings)[2] = (uint)count;
                if (Ioctl(fd, ifreq, strings) is var e2 and not 0) return e2;
                set[0] = SetFeatures;
                set[1] = (uint)blocks;
                for (var i = 0; i < count; i++)
                {
                    var text = new ReadOnlySpan<byte>(strings + 12 + i * StringLength, StringLength);
                    var end = text.IndexOf((byte)0);
                    var feature = Encoding.ASCII.GetString(end < 0 ? text : text[..end]);
                    if (!Unwanted(feature, keepTcp)) continue;
                    set[2 + i / 32 * 2] |= 1u << (i % 32); // valid: change it; requested stays 0: off
                }

                return Ioctl(fd, ifreq, set);
            }
            finally
            {
                NativeMemory.Free(strings);
                NativeMemory.Free(set);
            }
        }
        finally
        {
            close(fd);
        }
    }

    private static bool Unwanted(string feature, bool keepTcp)
    {
        if (!feature.StartsWith("tx-", StringComparison.Ordinal) || feature == "tx-generic-segmentation") return false;
        if (feature.StartsWith("tx-checksum", StringComparison.Ordinal)) return !keepTcp;
        if (!feature.EndsWith("-segmentation", StringComparison.Ordinal) && feature is not ("tx-gso-list" or "tx-gso-partial")) return false;
        return !keepTcp || !TcpSegmentation.Contains(feature);
    }

    private static int Ioctl(int fd, Span<byte> ifreq, void* data)
    {
        fixed (byte* r = ifreq)
        {
            *(void**)(r + 16) = data;
            return ioctl(fd, SiocEthtool, r) < 0 ? Marshal.GetLastPInvokeError() : 0;
        }
    }

    [LibraryImport("libc", SetLastError = true)]
    private static partial int socket(int domain, int type, int protocol);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int ioctl(int fd, uint request, byte* argument);

    [LibraryImport("libc")]
    private static partial int close(int fd);
}
