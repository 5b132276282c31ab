using System.Net.Sockets;
using System.Runtime.Versioning;

namespace LispMobility.Platform.DataPlane;

/// <summary>
/// Sends whole IP packets the data plane built (outer headers included: the ITR sets the outer UDP source port, TTL,
/// DSCP and checksum per packet, which a UDP socket cannot) through raw IPPROTO_RAW sockets, queued and sent with one
/// <c>sendmmsg</c> per batch. One loop owns it.
/// </summary>
[SupportedOSPlatform("linux")]
public sealed class RawIpSender : IDisposable
{
    private readonly Socket _v4;
    private readonly Socket _v6;
    private readonly MessageBatch _batch4;
    private readonly MessageBatch _batch6;
    private readonly int _fd4;
    private readonly int _fd6;
    private long _errors;

    /// <summary>Opens the IPv4 and IPv6 raw sockets (root or CAP_NET_RAW).</summary>
    public RawIpSender(int batchSize = 64, int slotSize = 9216)
    {
        _v4 = new Socket(AddressFamily.InterNetwork, SocketType.Raw, ProtocolType.Raw);
        _v6 = new Socket(AddressFamily.InterNetworkV6, SocketType.Raw, ProtocolType.Raw);
        _v4.SendBufferSize = 4 << 20;
        _v6.SendBufferSize = 4 << 20;
        _batch4 = new MessageBatch(batchSize, slotSize);
        _batch6 = new MessageBatch(batchSize, slotSize);
        _fd4 = (int)_v4.SafeHandle.DangerousGetHandle();
        _fd6 = (int)_v6.SafeHandle.DangerousGetHandle();
    }

    /// <summary>Packets the kernel refused (no route, queue full).</summary>
    public long Errors => Interlocked.Read(ref _errors);

    /// <summary>Queues an IPv4 or IPv6 packet to its destination (read from its header); flushes first when the batch is full.</summary>
    public void Queue(ReadOnlySpan<byte> packet)
    {
        if (packet.Length < 20) return;
        var v6 = packet[0] >> 4 == 6;
        if (v6 && packet.Length < 40) return;
        Span<byte> sockaddr = stackalloc byte[v6 ? 28 : 16];
        sockaddr.Clear();
        BitConverter.TryWriteBytes(sockaddr, (ushort)(v6 ? 10 : 2));
        if (v6) packet[24..40].CopyTo(sockaddr[8..]);
        else packet[16..20].CopyTo(sockaddr[4..]);
        var batch = v6 ? _batch6 : _batch4;
        if (batch.TryAdd(packet, sockaddr)) return;
        Flush();
        if (!batch.TryAdd(packet, sockaddr)) Interlocked.Increment(ref _errors);
    }

    /// <summary>Sends everything queued; a packet the kernel refuses is lost and counted, the rest still go.</summary>
    public void Flush()
    {
        var refused = _batch4.SendAll(_fd4) + _batch6.SendAll(_fd6);
        if (refused > 0) Interlocked.Add(ref _errors, refused);
    }

    /// <inheritdoc />
    public void Dispose()
    {
        _v4.Dispose();
        _v6.Dispose();
        _batch4.Dispose();
        _batch6.Dispose();
    }
}
