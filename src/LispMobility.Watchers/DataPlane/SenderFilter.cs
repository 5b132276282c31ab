using System.Buffers.Binary;
using System.Net;
using System.Net.NetworkInformation;
using System.Net.Sockets;
using System.Runtime.Versioning;

namespace LispMobility.Watchers.DataPlane;

/// <summary>
/// The classic BPF program the sniffer's socket runs in the kernel: frames this host sends out of the interface are dropped,
/// and so are the IPv4 and IPv6 packets (ICMPv6 aside, which carries Neighbor Discovery) of senders already known by their
/// MAC and address, which could only be reported again as known. Everything else reaches the socket: announcements, new
/// senders, and any frame the program cannot place (tagged, short), which the reader then judges as before.
/// </summary>
/// <remarks>
/// Without it the sniffer reads every frame a VM sends: on a data-plane site that is every packet of every flow, at a
/// syscall and a thread wake-up each (docs/benchmarks.md). Its instructions are <c>struct sock_filter</c> in the machine's order.
/// </remarks>
[SupportedOSPlatform("linux")]
internal static class SenderFilter
{
    /// <summary>The most instructions a classic BPF program may have (BPF_MAXINSNS).</summary>
    public const int MaxInstructions = 4096;

    private const ushort LdW = 0x20, LdH = 0x28, LdB = 0x30, LdLen = 0x80, Jeq = 0x15, Jge = 0x35, Ja = 0x05, Ret = 0x06;
    private const uint PacketTypeOffset = 0xFFFFF000 + 4, Drop = 0, Accept = 0xFFFFFFFF;
    private const int V4Entry = 7, V6Entry = 13;

    /// <summary>The instructions every program has, senders aside.</summary>
    public const int BaseInstructions = 19;

    /// <summary>
    /// The program for <paramref name="known"/> senders; past what fits in <paramref name="maxInstructions"/> (at most
    /// <see cref="MaxInstructions"/>) the rest are left out (their packets reach the socket, as without a filter).
    /// <paramref name="held"/> tells how many it drops the packets of, <paramref name="left"/> how many were left out.
    /// </summary>
    public static ulong[] Build(IEnumerable<(PhysicalAddress Mac, IPAddress Address)> known, int maxInstructions, out int held, out int left)
    {
        ArgumentNullException.ThrowIfNull(known);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxInstructions, BaseInstructions);
        var v4 = new List<(PhysicalAddress Mac, IPAddress Address)>();
        var v6 = new List<(PhysicalAddress Mac, IPAddress Address)>();
        foreach (var sender in known)
        {
            if (sender.Mac.GetAddressBytes().Length != 6) continue;
            if (sender.Address.AddressFamily == AddressFamily.InterNetwork) v4.Add(sender);
            else if (sender.Address.AddressFamily == AddressFamily.InterNetworkV6) v6.Add(sender);
        }

        // IPv4 senders first, then IPv6 ones, while they fit.
        var room = Math.Min(maxInstructions, MaxInstructions) - BaseInstructions;
        var fourCount = Math.Min(v4.Count, room / V4Entry);
        var sixCount = Math.Min(v6.Count, (room - fourCount * V4Entry) / V6Entry);
        held = fourCount + sixCount;
        left = v4.Count - fourCount + v6.Count - sixCount;
        var p = new List<ulong>(BaseInstructions + fourCount * V4Entry + sixCount * V6Entry)
        {
            Op(LdW, 0, 0, PacketTypeOffset),
            Op(Jeq, 0, 1, PacketSocket.PacketOutgoing),
            Op(Ret, 0, 0, Drop),
            Op(LdH, 0, 0, 12),
            Op(Jeq, 1, 0, 0x0800),
        };

        // Not IPv4: on to the IPv6 part, however long the IPv4 part is (ja takes a 32-bit offset, conditional jumps 8 bits).
        p.Add(Op(Ja, 0, 0, (uint)(3 + fourCount * V4Entry + 1)));
        p.Add(Op(LdLen, 0, 0, 0));
        p.Add(Op(Jge, 1, 0, 34)); // Ethernet + IPv4 header through the source address
        p.Add(Op(Ret, 0, 0, Accept));
        foreach (var (mac, address) in v4.Take(fourCount))
        {
            var ip = address.GetAddressBytes();
            p.Add(Op(LdW, 0, 0, 26));
            p.Add(Op(Jeq, 0, 5, BinaryPrimitives.ReadUInt32BigEndian(ip)));
            AddMac(p, mac);
        }

        p.Add(Op(Ret, 0, 0, Accept));
        // A still holds the ethertype here.
        p.Add(Op(Jeq, 1, 0, 0x86DD));
        p.Add(Op(Ret, 0, 0, Accept));
        p.Add(Op(LdLen, 0, 0, 0));
        p.Add(Op(Jge, 1, 0, 54)); // Ethernet + the whole IPv6 header
        p.Add(Op(Ret, 0, 0, Accept));
        p.Add(Op(LdB, 0, 0, 20));
        p.Add(Op(Jeq, 0, 1, 58)); // ICMPv6, Neighbor Discovery among it: always read
        p.Add(Op(Ret, 0, 0, Accept));
        foreach (var (mac, address) in v6.Take(sixCount))
        {
            var ip = address.GetAddressBytes();
            for (var w = 0; w < 4; w++)
            {
                p.Add(Op(LdW, 0, 0, (uint)(22 + 4 * w)));
                p.Add(Op(Jeq, 0, (byte)(V6Entry - 2 - 2 * w), BinaryPrimitives.ReadUInt32BigEndian(ip.AsSpan(4 * w))));
            }

            AddMac(p, mac);
        }

        p.Add(Op(Ret, 0, 0, Accept));
        return [.. p];
    }

    // The sender's MAC (bytes 6-11 of the frame): a match drops the frame, a mismatch goes on to the next sender.
    private static void AddMac(List<ulong> p, PhysicalAddress mac)
    {
        var bytes = mac.GetAddressBytes();
        p.Add(Op(LdW, 0, 0, 6));
        p.Add(Op(Jeq, 0, 3, BinaryPrimitives.ReadUInt32BigEndian(bytes)));
        p.Add(Op(LdH, 0, 0, 10));
        p.Add(Op(Jeq, 0, 1, BinaryPrimitives.ReadUInt16BigEndian(bytes.AsSpan(4))));
        p.Add(Op(Ret, 0, 0, Drop));
    }

    // struct sock_filter { u16 code; u8 jt; u8 jf; u32 k; }
    private static ulong Op(ushort code, byte jt, byte jf, uint k) => code | ((ulong)jt << 16) | ((ulong)jf << 24) | ((ulong)k << 32);
}
