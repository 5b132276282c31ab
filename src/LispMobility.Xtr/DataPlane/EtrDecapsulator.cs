using LispMobility.Lisp.Addressing;
using LispMobility.Lisp.Messages;

namespace LispMobility.Xtr.DataPlane;

/// <summary>
/// The ETR's per-packet work (RFC 9300), sans I/O: a UDP 4341 payload received on a local RLOC is checked (LISP header,
/// instance ID, outer source, inner packet) and its inner packet handed to a local EID; data for an EID that moved away
/// is dropped and its ITR solicited (SMR, rate-limited per ITR and EID). Anything malformed or hostile is counted by
/// reason and dropped. Allocates nothing; thread-safe (its state is the immutable EID view and the shared limiter).
/// </summary>
public sealed class EtrDecapsulator
{
    private readonly DataPlaneSettings _settings;
    private readonly Func<LocalEids> _eids;
    private readonly DataPlaneCounters _counters;
    private readonly IDataPlaneSignals _signals;
    private readonly RateLimiter _smrs;
    private readonly (AddressKind Kind, UInt128 Bits)[] _rlocs;
    // When each (remote ITR, bits) slot last signalled its locator-status bits; read and written without a lock on the fast
    // path: a race costs at most one extra or one late signal, and the bits come again with the next packet.
    private readonly long[] _lsbSeen = new long[256];

    /// <summary>Builds an ETR over an EID view source (republished by the control plane as hosts come and go).</summary>
    public EtrDecapsulator(DataPlaneSettings settings, Func<LocalEids> eids, DataPlaneCounters counters, IDataPlaneSignals signals)
    {
        _settings = settings ?? throw new ArgumentNullException(nameof(settings));
        _eids = eids ?? throw new ArgumentNullException(nameof(eids));
        _counters = counters ?? throw new ArgumentNullException(nameof(counters));
        _signals = signals ?? throw new ArgumentNullException(nameof(signals));
        _smrs = new RateLimiter(4096, settings.SignalInterval);
        _rlocs = [.. settings.LocalRlocs.Where(r => r.IsIp).Select(r => (r.Kind, IpPacket.Bits(r)))];
    }

    /// <summary>
    /// Decapsulates the UDP payload <paramref name="payload"/> that <paramref name="outerSource"/> sent to
    /// <paramref name="outerDestination"/>; true with the inner packet's place in <paramref name="payload"/> when it is to be
    /// delivered, false when it was dropped (and counted).
    /// </summary>
    public bool TryDecapsulate(ReadOnlySpan<byte> payload, AddressKind outerKind, UInt128 outerSource, UInt128 outerDestination, DateTimeOffset now, out Range inner)
    {
        inner = default;
        if (!IsLocalRloc(outerKind, outerDestination) || !CanBeRemoteRloc(outerKind, outerSource)) return Drop(DataPlaneDrop.SpoofedRloc);
        if (payload.Length < DataPlaneHeader.Length + IpPacket.IPv4HeaderLength) return Drop(DataPlaneDrop.Truncated);
        if (!DataPlaneHeader.TryRead(payload, out var header, out _)) return Drop(DataPlaneDrop.BadHeader);
        // A packet without I belongs to instance 0.
        var iid = header.InstanceIdPresent ? header.InstanceId : 0;
        if (iid != (_settings.InstanceId ?? 0)) return Drop(DataPlaneDrop.UnknownInstanceId);

        var packet = payload[DataPlaneHeader.Length..];
        if (!IpPacket.TryRead(packet, out var ip)) return Drop(DataPlaneDrop.BadInnerPacket);
        switch (_eids().StateOf(ip.Kind, ip.Destination))
        {
            case LocalEidState.Unlisted:
                Solicit(outerKind, outerSource, ip, now);
                goto case LocalEidState.Local;
            case LocalEidState.Local:
                if (header.LocatorStatusBitsEnabled) NoteLocatorStatusBits(outerKind, outerSource, header, ip, now);
                _counters.Decapsulation();
                inner = new Range(DataPlaneHeader.Length, DataPlaneHeader.Length + ip.Length);
                return true;
            case LocalEidState.Away:
                Solicit(outerKind, outerSource, ip, now);
                return Drop(DataPlaneDrop.EidAway);
            default:
                return Drop(DataPlaneDrop.InnerNotLocal);
        }
    }

    private void Solicit(AddressKind outerKind, UInt128 itr, in IpPacket ip, DateTimeOffset now)
    {
        // One key for the pair: the EID's bits mixed with the ITR's (a collision only suppresses an SMR the next packet resends).
        var key = ip.Destination ^ UInt128.RotateLeft(itr * 0x9E3779B97F4A7C15UL + (byte)outerKind, 64);
        if (!_smrs.TryPass(key, now.UtcTicks)) return;
        _signals.SolicitItr(Address(outerKind, itr), Address(ip.Kind, ip.Destination));
    }

    private void NoteLocatorStatusBits(AddressKind outerKind, UInt128 itr, in DataPlaneHeader header, in IpPacket ip, DateTimeOffset now)
    {
        var width = header.InstanceIdPresent ? 8 : 32;
        var bits = header.LocatorStatusBits & (width == 32 ? uint.MaxValue : 0xFFu);
        var slot = (int)(Caching.MapCacheSnapshot.Hash(itr ^ ((UInt128)bits << 96) ^ (byte)outerKind) & 0xFF);
        var last = Volatile.Read(ref _lsbSeen[slot]);
        if (last != 0 && now.UtcTicks - last < _settings.SignalInterval.Ticks) return;
        Volatile.Write(ref _lsbSeen[slot], now.UtcTicks);
        _signals.LocatorStatusBits(Address(ip.Kind, ip.Source).WithInstanceId(_settings.InstanceId), bits, width);
    }

    private static LispAddress Address(AddressKind kind, UInt128 bits) =>
        kind == AddressKind.IPv4 ? LispAddress.IPv4((uint)bits) : LispAddress.IPv6((ulong)(bits >> 64), (ulong)bits);

    private bool IsLocalRloc(AddressKind kind, UInt128 address)
    {
        foreach (var (k, bits) in _rlocs)
        {
            if (k == kind && bits == address) return true;
        }

        return false;
    }

    // An outer source that no remote xTR can have: ours (a reflection), unspecified, loopback, multicast or broadcast.
    private bool CanBeRemoteRloc(AddressKind kind, UInt128 address)
    {
        if (IsLocalRloc(kind, address) || address == UInt128.Zero) return false;
        if (kind == AddressKind.IPv4)
        {
            var top = (uint)address >> 24;
            return top != 127 && top < 224;
        }

        return address != UInt128.One && (byte)(address >> 120) != 0xFF;
    }

    private bool Drop(DataPlaneDrop reason)
    {
        _counters.Drop(reason);
        return false;
    }
}
