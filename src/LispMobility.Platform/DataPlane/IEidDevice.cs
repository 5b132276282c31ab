using System.Net;

namespace LispMobility.Platform.DataPlane;

/// <summary>
/// The device the remote EID space is routed to: the kernel hands the ITR the packets routed to it, and packets the ETR
/// writes to it enter the host's stack as if received on it. A <see cref="TunDevice"/>, or a <see cref="VethDevice"/> read
/// through a shared-memory packet ring.
/// </summary>
public interface IEidDevice : IDisposable
{
    /// <summary>The interface name the routes point at.</summary>
    string Name { get; }

    /// <summary>Whether every packet read or written starts with a 10-byte virtio-net header (checksum and segmentation offload).</summary>
    bool HasVnetHeader { get; }

    /// <summary>Why the kernel refused the offloads (an errno), or 0.</summary>
    int OffloadErrno { get; }

    /// <summary>Whether UDP super-packets (VIRTIO_NET_HDR_GSO_UDP_L4) may be written to the device.</summary>
    bool TakesUdpSuperPackets { get; }

    /// <summary>The number of queues, each read by its own loop.</summary>
    int Queues { get; }

    /// <summary>Routes <paramref name="prefix"/>/<paramref name="length"/> to this device (replacing a route already there).</summary>
    void AddRoute(IPAddress prefix, int length, byte routeProtocol);

    /// <summary>Writes one packet (no virtio-net header); false when the device refused it. Any thread.</summary>
    bool Write(ReadOnlySpan<byte> packet);

    /// <summary>
    /// A reader of queue <paramref name="queue"/>: batches of up to <paramref name="capacity"/> packets of up to
    /// <paramref name="maxPacket"/> bytes, each after <paramref name="headroom"/> free bytes (and its virtio-net header where
    /// the device has one); <paramref name="batchedSyscalls"/> asks for io_uring where the device reads through syscalls.
    /// </summary>
    IPacketReader OpenReader(int queue, int capacity, int headroom, int maxPacket, bool batchedSyscalls);

    /// <summary>A writer of batches of up to <paramref name="capacity"/> packets of up to <paramref name="maxPacket"/> bytes.</summary>
    IPacketWriter OpenWriter(int capacity, int maxPacket, bool batchedSyscalls);
}

/// <summary>
/// Reads an <see cref="IEidDevice"/>'s queue a batch at a time. One loop owns it: <see cref="Wait"/>, <see cref="Read"/>,
/// handle the packets, <see cref="Rearm"/>; any thread may <see cref="Wake"/> its wait.
/// </summary>
public interface IPacketReader : IDisposable
{
    /// <summary>True when a wake-up reads a batch without a syscall per packet.</summary>
    bool Batched { get; }

    /// <summary>Why batching was unavailable (an errno), or 0.</summary>
    int RingErrno { get; }

    /// <summary>Packets the device dropped before this reader saw them (its queue or ring full), since the last call.</summary>
    long TakeDropped();

    /// <summary>Waits up to <paramref name="timeoutMs"/> for packets to read or a <see cref="Wake"/>; false on timeout.</summary>
    bool Wait(int timeoutMs);

    /// <summary>Ends the owner's current or next <see cref="Wait"/> at once; from any thread.</summary>
    void Wake();

    /// <summary>
    /// The packets ready since the last call (non-blocking; 0 when none): packet i is <see cref="Slot"/>(i) from the
    /// headroom on, <see cref="Length"/>(i) bytes (its virtio-net header first where the device has one), valid until
    /// <see cref="Rearm"/>.
    /// </summary>
    int Read();

    /// <summary>Packet <paramref name="index"/>'s slot: the headroom, then the packet; writable (the ITR writes the outer headers into the headroom).</summary>
    Span<byte> Slot(int index);

    /// <summary>The length of packet <paramref name="index"/>, its virtio-net header included.</summary>
    int Length(int index);

    /// <summary>Hands the last batch's slots back to the device.</summary>
    void Rearm();
}

/// <summary>Writes packets to an <see cref="IEidDevice"/> a batch per syscall. One loop owns it.</summary>
public interface IPacketWriter : IDisposable
{
    /// <summary>True when a batch costs one syscall.</summary>
    bool Batched { get; }

    /// <summary>Why batching was unavailable (an errno), or 0.</summary>
    int RingErrno { get; }

    /// <summary>Packets the device refused (its queue full, as on a congested link) or too long for a slot.</summary>
    long Dropped { get; }

    /// <summary>Queues a copy of <paramref name="packet"/>; flushes first when the batch is full.</summary>
    void Queue(ReadOnlySpan<byte> packet);

    /// <summary>Queues a copy of <paramref name="framed"/>, a packet after its own virtio-net header; only for a device that takes one.</summary>
    void QueueFramed(ReadOnlySpan<byte> framed);

    /// <summary>Writes everything queued.</summary>
    void Flush();
}
