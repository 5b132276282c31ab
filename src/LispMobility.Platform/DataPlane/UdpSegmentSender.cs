using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Runtime.Versioning;

namespace LispMobility.Platform.DataPlane;

/// <summary>
/// Sends outer packets the ITR built (IPv4 or IPv6, UDP) through a UDP socket bound to their source address and port, so
/// that a run of equal segments of one flow to one RLOC leaves as one UDP GSO send: the stack is walked once per run (a
/// TCP super-packet's worth) instead of once per segment, as through <see cref="RawIpSender"/>. The outer TTL and TOS are
/// set on the socket when they change; the kernel writes the headers, with the UDP checksum (GSO needs it; RFC 9300 §5.3
/// allows a correctly computed one) and DF (IP_PMTUDISC_PROBE: the ITR already sized the packet). Packets are sent in the
/// order queued: another flow's packet first sends what is queued. One loop owns it.
/// </summary>
[SupportedOSPlatform("linux")]
public sealed class UdpSegmentSender : IDisposable
{
    private const int SolIp = 0, IpMtuDiscover = 10, SolIpv6 = 41, Ipv6MtuDiscover = 23, Ipv6Tclass = 67;
    private const int PmtuDiscProbe = 3;

    // Sockets are kept per flow (source address and port), at most this many: past it the oldest flow's socket is closed, so
    // a busy ITR with more flows opens one socket per new flow rather than all of them again.
    private readonly int _maxFlows;
    private readonly Dictionary<(UInt128 Source, ushort Port, bool V6), Flow?> _flows = [];
    private readonly Queue<(UInt128 Source, ushort Port, bool V6)> _opened = new();
    private readonly MessageBatch _batch;
    private readonly byte[] _scratch;
    private Flow? _current;
    private long _errors;
    private long _unbound;

    /// <summary>Up to <paramref name="batchSize"/> segments of up to <paramref name="slotSize"/> bytes queued at once, sockets for up to <paramref name="maxFlows"/> flows.</summary>
    public UdpSegmentSender(int batchSize = 64, int slotSize = 9216, int maxFlows = 256)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxFlows, 1);
        _maxFlows = maxFlows;
        _batch = new MessageBatch(batchSize, slotSize, segment: true);
        _scratch = new byte[slotSize];
    }

    /// <summary>
    /// Where to put the next outer packet together so that <see cref="TryQueue"/> takes it without a copy: the batch's next
    /// free slot (a buffer of the same size while the batch is full). Its bytes are the caller's until the next call here.
    /// </summary>
    public Span<byte> Workspace => _batch.Free is { IsEmpty: false } free ? free : _scratch;

    /// <summary>Segments the kernel refused (no route, buffer full).</summary>
    public long Errors => _errors;

    /// <summary>Packets left to the caller because their flow has no usable socket (its source port held by another, no descriptor left, or its TTL or TOS refused).</summary>
    public long Unbound => _unbound;

    /// <summary>Sends that carried a run of segments as one (UDP GSO).</summary>
    public long SegmentedSends => _batch.SegmentedSends;

    /// <summary>The errno with which the kernel refused GSO (sends then go a segment each), or 0.</summary>
    public int SegmentationRefused => _batch.SegmentationRefused;

    /// <summary>
    /// Queues an outer packet: false (nothing queued) when it is not UDP over IPv4 or IPv6, or when no socket can have its
    /// source address and port; the caller sends it another way.
    /// </summary>
    public bool TryQueue(ReadOnlySpan<byte> packet)
    {
        if (!TryParse(packet, out var v6, out var source, out var destination, out var trafficClass, out var ttl, out var sourcePort, out var destinationPort, out var payload))
            return false;

        var flow = FlowOf(source, sourcePort, v6);
        if (flow is null)
        {
            _unbound++;
            return false;
        }

        if (!ReferenceEquals(flow, _current))
        {
            Flush();
            _current = flow;
        }

        if (flow.Ttl != ttl || flow.TrafficClass != trafficClass)
        {
            Flush();
            if (!flow.TryApply(ttl, trafficClass))
            {
                _unbound++;
                return false;
            }
        }

        Span<byte> sockaddr = stackalloc byte[v6 ? 28 : 16];
        sockaddr.Clear();
        BitConverter.TryWriteBytes(sockaddr, (ushort)(v6 ? 10 : 2));
        BinaryPrimitives.WriteUInt16BigEndian(sockaddr[2..], destinationPort);
        if (v6) BinaryPrimitives.WriteUInt128BigEndian(sockaddr[8..], destination);
        else BinaryPrimitives.WriteUInt32BigEndian(sockaddr[4..], (uint)destination);
        // Put together in the workspace, it is queued where it lies; otherwise (or when a flush above sent the batch from under
        // it) it is copied into the next slot.
        if (_batch.TryCommit(payload, sockaddr) || _batch.TryAdd(payload, sockaddr)) return true;
        Flush();
        if (!_batch.TryAdd(payload, sockaddr)) _errors++;
        return true;
    }

    /// <summary>Sends everything queued.</summary>
    public void Flush()
    {
        if (_current is null || _batch.Count == 0) return;
        // A segment the kernel refuses is lost and counted, the rest still go.
        _errors += _batch.SendAll(_current.Fd);
    }

    private Flow? FlowOf(UInt128 source, ushort port, bool v6)
    {
        if (_flows.TryGetValue((source, port, v6), out var flow)) return flow;
        if (_flows.Count >= _maxFlows && _flows.Remove(_opened.Dequeue(), out var oldest) && oldest is not null)
        {
            if (ReferenceEquals(oldest, _current))
            {
                Flush();
                _current = null;
            }

            oldest.Dispose();
        }

        flow = Flow.TryOpen(source, port, v6);
        _flows[(source, port, v6)] = flow;
        _opened.Enqueue((source, port, v6));
        return flow;
    }

    private static bool TryParse(ReadOnlySpan<byte> packet, out bool v6, out UInt128 source, out UInt128 destination, out byte trafficClass, out byte ttl,
        out ushort sourcePort, out ushort destinationPort, out ReadOnlySpan<byte> payload)
    {
        v6 = false;
        source = destination = 0;
        trafficClass = ttl = 0;
        sourcePort = destinationPort = 0;
        payload = default;
        if (packet.Length < 1) return false;
        int headerLength;
        switch (packet[0] >> 4)
        {
            case 4:
                headerLength = (packet[0] & 0xF) * 4;
                if (headerLength < 20 || packet.Length < headerLength + 8 || packet[9] != 17) return false;
                trafficClass = packet[1];
                ttl = packet[8];
                source = BinaryPrimitives.ReadUInt32BigEndian(packet[12..]);
                destination = BinaryPrimitives.ReadUInt32BigEndian(packet[16..]);
                break;
            case 6:
                headerLength = 40;
                if (packet.Length < 48 || packet[6] != 17) return false;
                v6 = true;
                trafficClass = (byte)((packet[0] & 0xF) << 4 | packet[1] >> 4);
                ttl = packet[7];
                source = BinaryPrimitives.ReadUInt128BigEndian(packet[8..]);
                destination = BinaryPrimitives.ReadUInt128BigEndian(packet[24..]);
                break;
            default:
                return false;
        }

        var udp = packet[headerLength..];
        sourcePort = BinaryPrimitives.ReadUInt16BigEndian(udp);
        destinationPort = BinaryPrimitives.ReadUInt16BigEndian(udp[2..]);
        var length = BinaryPrimitives.ReadUInt16BigEndian(udp[4..]);
        if (length < 8 || length > udp.Length) return false;
        payload = udp[8..length];
        return true;
    }

    /// <inheritdoc />
    public void Dispose()
    {
        foreach (var f in _flows.Values) f?.Dispose();
        _flows.Clear();
        _opened.Clear();
        _batch.Dispose();
    }

    /// <summary>A UDP socket bound to one flow's outer source address and port, with the TTL and TOS last set on it.</summary>
    private sealed class Flow(Socket socket, bool v6) : IDisposable
    {
        public int Fd { get; } = (int)socket.SafeHandle.DangerousGetHandle();
        public int Ttl { get; private set; } = -1;
        public int TrafficClass { get; private set; } = -1;

        public static Flow? TryOpen(UInt128 source, ushort port, bool v6)
        {
            var bytes = new byte[v6 ? 16 : 4];
            if (v6) BinaryPrimitives.WriteUInt128BigEndian(bytes, source);
            else BinaryPrimitives.WriteUInt32BigEndian(bytes, (uint)source);
            var address = new IPAddress(bytes);
            Socket socket;
            try
            {
                socket = new Socket(v6 ? AddressFamily.InterNetworkV6 : AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
            }
            catch (SocketException)
            {
                return null; // out of descriptors: that flow goes raw
            }

            try
            {
                if (v6) socket.DualMode = false;
                // No SO_REUSEPORT: with it, a program already on this port with SO_REUSEPORT would share its traffic with a
                // socket that never reads. A port in use (by another program, or by another ITR thread that a flow moved
                // from) fails the bind, and that flow's segments go raw.
                socket.SetRawSocketOption(v6 ? SolIpv6 : SolIp, v6 ? Ipv6MtuDiscover : IpMtuDiscover, BitConverter.GetBytes(PmtuDiscProbe));
                socket.SendBufferSize = 4 << 20;
                // Nothing is read from it: what arrives at the port is held in the smallest buffer the kernel allows.
                socket.ReceiveBufferSize = 0;
                socket.Bind(new IPEndPoint(address, port));
                return new Flow(socket, v6);
            }
            catch (SocketException)
            {
                socket.Dispose();
                return null;
            }
        }

        /// <summary>Sets the outer TTL and TOS; false when the kernel refuses (the packet then goes another way).</summary>
        public bool TryApply(byte ttl, byte trafficClass)
        {
            try
            {
                if (Ttl != ttl) socket.SetSocketOption(v6 ? SocketOptionLevel.IPv6 : SocketOptionLevel.IP, SocketOptionName.IpTimeToLive, ttl);
                Ttl = ttl;
                if (TrafficClass != trafficClass)
                {
                    if (v6) socket.SetRawSocketOption(SolIpv6, Ipv6Tclass, BitConverter.GetBytes((int)trafficClass));
                    else socket.SetSocketOption(SocketOptionLevel.IP, SocketOptionName.TypeOfService, trafficClass);
                }

                TrafficClass = trafficClass;
                return true;
            }
            catch (SocketException)
            {
                return false;
            }
        }

        public void Dispose() => socket.Dispose();
    }
}
