using System.Buffers.Binary;
using LispMobility.Lisp.Wire;

namespace LispMobility.Xtr.DataPlane;

/// <summary>
/// The virtio-net header a TUN opened with IFF_VNET_HDR puts before every packet it hands over (and takes before every
/// packet written to it): whether the transport checksum is left for the reader to complete, and whether the packet is a
/// TCP super-packet (TSO) to be cut into segments of <see cref="GsoSize"/> payload bytes. Little-endian, as the kernel
/// writes it on little-endian hosts (no TUNSETVNETBE).
/// </summary>
public readonly record struct VirtioNetHeader(byte Flags, byte GsoType, ushort HeaderLength, ushort GsoSize, ushort ChecksumStart, ushort ChecksumOffset)
{
    /// <summary>Bytes of the header (struct virtio_net_hdr without num_buffers, the TUN's default size).</summary>
    public const int Length = 10;

    /// <summary>Flag: the checksum at <see cref="ChecksumStart"/> + <see cref="ChecksumOffset"/> holds only the pseudo-header's sum.</summary>
    public const byte NeedsChecksum = 1;

    /// <summary>Flag (on a written packet): its checksum was verified, the stack need not check it again.</summary>
    public const byte DataValid = 2;

    /// <summary>GSO type: an ordinary packet.</summary>
    public const byte GsoNone = 0;

    /// <summary>GSO type: an IPv4 TCP super-packet.</summary>
    public const byte GsoTcpV4 = 1;

    /// <summary>GSO type: an IPv6 TCP super-packet.</summary>
    public const byte GsoTcpV6 = 4;

    /// <summary>GSO type: a UDP super-packet (USO), cut into datagrams of <see cref="GsoSize"/> payload bytes.</summary>
    public const byte GsoUdpL4 = 5;

    /// <summary>GSO flag: the super-packet's flow uses ECN (CWR stays on the first segment only).</summary>
    public const byte GsoEcn = 0x80;

    /// <summary>The header of a packet written as it came, its checksum already verified.</summary>
    public static readonly VirtioNetHeader Verified = new(DataValid, GsoNone, 0, 0, 0, 0);

    /// <summary>Whether the packet is a super-packet to cut into segments.</summary>
    public bool IsSuperPacket => (GsoType & ~GsoEcn) != GsoNone;

    /// <summary>Reads the header at the start of <paramref name="bytes"/> (at least <see cref="Length"/> bytes).</summary>
    public static VirtioNetHeader Read(ReadOnlySpan<byte> bytes) => new(
        bytes[0], bytes[1], BinaryPrimitives.ReadUInt16LittleEndian(bytes[2..]), BinaryPrimitives.ReadUInt16LittleEndian(bytes[4..]),
        BinaryPrimitives.ReadUInt16LittleEndian(bytes[6..]), BinaryPrimitives.ReadUInt16LittleEndian(bytes[8..]));

    /// <summary>Writes this header at the start of <paramref name="bytes"/>.</summary>
    public void Write(Span<byte> bytes)
    {
        bytes[0] = Flags;
        bytes[1] = GsoType;
        BinaryPrimitives.WriteUInt16LittleEndian(bytes[2..], HeaderLength);
        BinaryPrimitives.WriteUInt16LittleEndian(bytes[4..], GsoSize);
        BinaryPrimitives.WriteUInt16LittleEndian(bytes[6..], ChecksumStart);
        BinaryPrimitives.WriteUInt16LittleEndian(bytes[8..], ChecksumOffset);
    }

    /// <summary>
    /// Completes the transport checksum of <paramref name="packet"/> (the packet after the header) when the header says it
    /// is partial, as a NIC with checksum offload would: the packet leaves through a tunnel, where nothing else will.
    /// False when the checksum's place lies outside the packet.
    /// </summary>
    public bool TryCompleteChecksum(Span<byte> packet)
    {
        if ((Flags & NeedsChecksum) == 0) return true;
        if (ChecksumStart + ChecksumOffset + 2 > packet.Length) return false;
        // The field holds the pseudo-header's folded sum; summed over with the rest it gives the whole checksum. A result of
        // 0 is written as its ones'-complement twin 0xFFFF, as the kernel does: 0 means "no checksum" to UDP.
        var covered = packet[ChecksumStart..];
        var checksum = InternetChecksum.Finish(InternetChecksum.Add(0, covered));
        BinaryPrimitives.WriteUInt16BigEndian(covered[ChecksumOffset..], checksum == 0 ? (ushort)0xFFFF : checksum);
        return true;
    }
}
