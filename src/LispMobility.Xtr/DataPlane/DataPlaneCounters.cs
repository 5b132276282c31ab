namespace LispMobility.Xtr.DataPlane;

/// <summary>Why the data plane dropped a packet or answered it instead of forwarding it.</summary>
public enum DataPlaneDrop
{
    /// <summary>Shorter than the headers it claims (outer, LISP or inner).</summary>
    Truncated,
    /// <summary>A LISP data header that cannot be read (N and V both set).</summary>
    BadHeader,
    /// <summary>An instance ID this xTR does not serve.</summary>
    UnknownInstanceId,
    /// <summary>Outer source that cannot be a remote RLOC (ours, unspecified, loopback, multicast) or to an address not our RLOC.</summary>
    SpoofedRloc,
    /// <summary>Not an IPv4 or IPv6 packet inside (or an inconsistent inner header).</summary>
    BadInnerPacket,
    /// <summary>Decapsulated for an address that is no EID of this site.</summary>
    InnerNotLocal,
    /// <summary>Decapsulated for an EID that moved away from this site (its ITR was sent an SMR, rate-limited).</summary>
    EidAway,
    /// <summary>No map-cache entry yet (a Map-Request was asked for, rate-limited per destination) and no queue to hold it in.</summary>
    MapCacheMiss,
    /// <summary>No map-cache entry yet and the miss queue full (for its destination, or no destination left).</summary>
    MissQueueFull,
    /// <summary>Held on a miss, and no Map-Reply installed an entry within the hold time.</summary>
    ResolveFailed,
    /// <summary>A negative map-cache entry whose action is drop (or no action).</summary>
    NegativeEntry,
    /// <summary>An entry with no usable locator of a family this xTR has an RLOC of.</summary>
    NoUsableRloc,
    /// <summary>Too big for the path with DF set: answered with ICMP Fragmentation Needed / Packet Too Big.</summary>
    TooBig,
    /// <summary>Too big for the path without DF (IPv4): dropped; the outer header is never fragmented.</summary>
    TooBigNoDf,
    /// <summary>TTL or hop limit of 1 or 0: the packet has no hop left for the tunnel.</summary>
    TtlExpired,
    /// <summary>
    /// To a multicast, broadcast, link-local or unspecified address, which is no EID (e.g. the kernel's own MLD reports on
    /// the TUN once IPv6 is up on it): dropped without a Map-Request.
    /// </summary>
    NotUnicast,
    /// <summary>
    /// Forwarded, and refused by the kernel on the way out: the outer packet's send failed (no route to the RLOC, socket
    /// buffer full) or the TUN's queue was full, as on a congested link.
    /// </summary>
    DeviceRefused,
    /// <summary>VXLAN to the kernel fast path's decapsulation port that its ETR program did not hand over: from the network, dropped.</summary>
    ForeignTunnel,
    /// <summary>A kernel helper refused a packet the fast path had begun to change (encapsulation or decapsulation half done).</summary>
    FastPathFailed,
}

/// <summary>What the data plane counted; updated from every forwarding thread without a lock.</summary>
public sealed class DataPlaneCounters
{
    private static readonly int Reasons = Enum.GetValues<DataPlaneDrop>().Length;
    private readonly long[] _drops = new long[Reasons];
    private long _encapsulated;
    private long _decapsulated;
    private long _nativelyForwarded;
    private long _held;
    private long _superPackets;
    private long _joined;
    private long _segmentedSends;
    private long _coalescedReceives;
    private long _fastPathEncapsulated;
    private long _fastPathDecapsulated;
    private long _fastPathEncapsulatedSuperPackets;
    private long _fastPathDecapsulatedSuperPackets;

    /// <summary>Packets encapsulated toward a remote RLOC.</summary>
    public long Encapsulated => Volatile.Read(ref _encapsulated);

    /// <summary>Packets decapsulated and handed to a local EID.</summary>
    public long Decapsulated => Volatile.Read(ref _decapsulated);

    /// <summary>Packets sent without encapsulation (negative entry with natively-forward).</summary>
    public long NativelyForwarded => Volatile.Read(ref _nativelyForwarded);

    /// <summary>Packets held on a map-cache miss (each then sent, or dropped and counted by reason).</summary>
    public long Held => Volatile.Read(ref _held);

    /// <summary>TCP super-packets the TUN handed over (segmentation offload) and the ITR cut into segments (each segment then counts as a packet).</summary>
    public long SuperPackets => Volatile.Read(ref _superPackets);

    /// <summary>Runs of decapsulated TCP segments, or UDP datagrams, the ETR joined into one super-packet for the TUN (receive offload).</summary>
    public long Joined => Volatile.Read(ref _joined);

    /// <summary>Runs of outer packets the ITR handed the kernel as one UDP GSO send (a super-packet's segments to one RLOC).</summary>
    public long SegmentedSends => Volatile.Read(ref _segmentedSends);

    /// <summary>Runs of outer datagrams the ETR received as one (UDP GRO: sent as one GSO send, kept whole on the way).</summary>
    public long CoalescedReceives => Volatile.Read(ref _coalescedReceives);

    /// <summary>
    /// Packets the kernel fast path encapsulated (a super-packet counts once, as the kernel cuts it later); included in
    /// <see cref="Encapsulated"/>.
    /// </summary>
    public long FastPathEncapsulated => Volatile.Read(ref _fastPathEncapsulated);

    /// <summary>Packets the kernel fast path decapsulated (a super-packet counts once); included in <see cref="Decapsulated"/>.</summary>
    public long FastPathDecapsulated => Volatile.Read(ref _fastPathDecapsulated);

    /// <summary>
    /// Of <see cref="FastPathEncapsulated"/>, the TCP super-packets: with none, bulk traffic crosses the kernel segment by
    /// segment and costs several times the CPU per byte (segmentation offload lost on the EID side).
    /// </summary>
    public long FastPathEncapsulatedSuperPackets => Volatile.Read(ref _fastPathEncapsulatedSuperPackets);

    /// <summary>Of <see cref="FastPathDecapsulated"/>, the super-packets (through the VXLAN receive path).</summary>
    public long FastPathDecapsulatedSuperPackets => Volatile.Read(ref _fastPathDecapsulatedSuperPackets);

    /// <summary>Packets dropped for <paramref name="reason"/>.</summary>
    public long Dropped(DataPlaneDrop reason) => Volatile.Read(ref _drops[(int)reason]);

    /// <summary>Every drop reason with its count.</summary>
    public IReadOnlyDictionary<DataPlaneDrop, long> Drops() => Enum.GetValues<DataPlaneDrop>().ToDictionary(r => r, Dropped);

    internal void Drop(DataPlaneDrop reason) => Interlocked.Increment(ref _drops[(int)reason]);

    internal void Drop(DataPlaneDrop reason, long count)
    {
        if (count > 0) Interlocked.Add(ref _drops[(int)reason], count);
    }

    internal void Encapsulation() => Interlocked.Increment(ref _encapsulated);

    internal void FastPath(long encapsulated, long encapsulatedSuperPackets, long decapsulated, long decapsulatedSuperPackets)
    {
        Interlocked.Add(ref _fastPathEncapsulated, encapsulated);
        Interlocked.Add(ref _encapsulated, encapsulated);
        Interlocked.Add(ref _fastPathEncapsulatedSuperPackets, encapsulatedSuperPackets);
        Interlocked.Add(ref _fastPathDecapsulated, decapsulated);
        Interlocked.Add(ref _decapsulated, decapsulated);
        Interlocked.Add(ref _fastPathDecapsulatedSuperPackets, decapsulatedSuperPackets);
    }

    internal void Decapsulation() => Interlocked.Increment(ref _decapsulated);

    internal void Hold() => Interlocked.Increment(ref _held);

    internal void Join(long runs)
    {
        if (runs > 0) Interlocked.Add(ref _joined, runs);
    }

    internal void SegmentedSend(long runs)
    {
        if (runs > 0) Interlocked.Add(ref _segmentedSends, runs);
    }

    internal void CoalescedReceive() => Interlocked.Increment(ref _coalescedReceives);

    internal void SuperPacket() => Interlocked.Increment(ref _superPackets);

    internal void Native() => Interlocked.Increment(ref _nativelyForwarded);
}
