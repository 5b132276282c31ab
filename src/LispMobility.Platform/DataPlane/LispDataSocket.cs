using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Runtime.Versioning;

namespace LispMobility.Platform.DataPlane;

/// <summary>
/// The ETR's UDP 4341 socket on one local RLOC: datagrams received by <c>recvmmsg</c>, up to a batch per wake-up, read in
/// place (no copy, no allocation). With UDP GRO, a run of equal datagrams an ITR sent as one GSO send (and the path kept
/// whole) arrives as one buffer of segments (<see cref="SegmentSize"/>). One loop owns it.
/// </summary>
[SupportedOSPlatform("linux")]
public sealed class LispDataSocket : IDisposable
{
    private readonly Socket _socket;
    private readonly MessageBatch _batch;
    private readonly int _fd;

    // SOL_UDP, UDP_GRO.
    private const int SolUdp = 17, UdpGro = 104;

    /// <summary>
    /// Binds <paramref name="local"/> (an RLOC and port 4341); with <paramref name="coalesce"/>, asks for UDP GRO (a kernel
    /// that refuses leaves <see cref="Coalescing"/> false and every datagram arrives alone, as without).
    /// </summary>
    public LispDataSocket(IPEndPoint local, int batchSize = 64, int slotSize = 9216, int receiveTimeoutMs = 500, bool coalesce = false)
    {
        ArgumentNullException.ThrowIfNull(local);
        _socket = new Socket(local.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
        try
        {
            if (local.AddressFamily == AddressFamily.InterNetworkV6) _socket.DualMode = false;
            _socket.ReceiveBufferSize = 4 << 20;
            _socket.ReceiveTimeout = receiveTimeoutMs; // the stop check
            _socket.Bind(local);
            if (coalesce)
            {
                try
                {
                    _socket.SetRawSocketOption(SolUdp, UdpGro, BitConverter.GetBytes(1));
                    Coalescing = true;
                }
                catch (SocketException e)
                {
                    CoalesceError = e.SocketErrorCode;
                }
            }

            // A run takes up to 64 KB: a slot smaller than that would cut it.
            _batch = new MessageBatch(batchSize, Coalescing ? 65536 : slotSize, coalesced: Coalescing);
            _fd = (int)_socket.SafeHandle.DangerousGetHandle();
        }
        catch
        {
            _socket.Dispose();
            throw;
        }

        Local = local;
    }

    /// <summary>The bound address.</summary>
    public IPEndPoint Local { get; }

    /// <summary>True when the socket receives runs of segments (UDP GRO).</summary>
    public bool Coalescing { get; }

    /// <summary>Why the kernel refused UDP GRO, when it was asked for and refused.</summary>
    public SocketError? CoalesceError { get; }

    /// <summary>The segment size of datagram <paramref name="index"/> when it is a run of segments (see <see cref="Coalescing"/>), else 0.</summary>
    public int SegmentSize(int index) => _batch.SegmentSize(index);

    /// <summary>Receives a batch (blocking up to the receive timeout for the first datagram); how many, 0 on timeout.</summary>
    public int Receive()
    {
        var n = _batch.Receive(_fd, out _);
        return Math.Max(0, n);
    }

    /// <summary>The UDP payload of datagram <paramref name="index"/> of the last batch (empty when it arrived cut).</summary>
    public ReadOnlySpan<byte> Payload(int index) => _batch.Truncated(index) ? default : _batch.Payload(index);

    /// <summary>The sender's address of datagram <paramref name="index"/> as bits (IPv4 in the low 32); false for another family.</summary>
    public bool TrySource(int index, out bool ipv6, out UInt128 address)
    {
        var sockaddr = _batch.Address(index);
        ipv6 = false;
        address = default;
        if (sockaddr.Length >= 8 && BitConverter.ToUInt16(sockaddr) == 2)
        {
            address = BinaryPrimitives.ReadUInt32BigEndian(sockaddr[4..]);
            return true;
        }

        if (sockaddr.Length >= 24 && BitConverter.ToUInt16(sockaddr) == 10)
        {
            ipv6 = true;
            address = BinaryPrimitives.ReadUInt128BigEndian(sockaddr[8..]);
            return true;
        }

        return false;
    }

    /// <inheritdoc />
    public void Dispose()
    {
        _socket.Dispose();
        _batch.Dispose();
    }
}
