using System.Security.Cryptography;
using LispMobility.Lisp.Addressing;
using LispMobility.Lisp.Messages;
using LispMobility.Lisp.Records;
using LispMobility.Xtr.Caching;

namespace LispMobility.Xtr.DataPlane;

/// <summary>What the ITR did with a packet.</summary>
public enum ItrVerdict
{
    /// <summary>Encapsulated: send the output (a whole outer IP packet) to its outer destination.</summary>
    Encapsulated,
    /// <summary>Forward the inner packet as it is (a negative entry that says so).</summary>
    Native,
    /// <summary>Too big with DF: the output is an ICMP error to write back toward the sender.</summary>
    IcmpReply,
    /// <summary>No map-cache entry yet: a copy is held until the Map-Reply (<see cref="ItrEncapsulator.TryRelease"/>).</summary>
    Held,
    /// <summary>Dropped and counted.</summary>
    Dropped,
}

/// <summary>
/// The ITR's per-packet work (RFC 9300), sans I/O: longest-prefix match in the published map-cache, the RLOC by priority
/// and weight chosen by the inner 5-tuple hash (which also gives the outer UDP source port), the LISP header with N and a
/// random nonce, I and the instance ID, L and the site's locator-status bits, outer TTL and DSCP/ECN from the inner
/// header, and the path MTU check. Works in place in the caller's buffer; allocates nothing. One instance per forwarding
/// thread (its nonce generator is not shared); the snapshot, counters and signals may be shared.
/// </summary>
public sealed class ItrEncapsulator
{
    /// <summary>Bytes to leave free before the inner packet: the largest outer header (IPv6 + UDP + LISP).</summary>
    public const int Headroom = PacketWriter.IPv6Overhead;

    private readonly DataPlaneSettings _settings;
    private readonly Func<MapCacheSnapshot> _snapshot;
    private readonly DataPlaneCounters _counters;
    private readonly IDataPlaneSignals _signals;
    private readonly RateLimiter _misses;
    private readonly Func<LispAddress, bool> _canSendTo;
    private readonly UInt128 _sourceV4;
    private readonly UInt128 _sourceV6;
    private readonly bool _hasV4;
    private readonly bool _hasV6;
    private readonly uint _lsbs;
    private readonly MissQueue? _held;
    private uint _random;

    /// <summary>Builds an ITR over a snapshot source (the xTR's published map-cache).</summary>
    public ItrEncapsulator(DataPlaneSettings settings, Func<MapCacheSnapshot> snapshot, DataPlaneCounters counters, IDataPlaneSignals signals)
    {
        _settings = settings ?? throw new ArgumentNullException(nameof(settings));
        _snapshot = snapshot ?? throw new ArgumentNullException(nameof(snapshot));
        _counters = counters ?? throw new ArgumentNullException(nameof(counters));
        _signals = signals ?? throw new ArgumentNullException(nameof(signals));
        _misses = new RateLimiter(4096, settings.SignalInterval);
        foreach (var r in settings.LocalRlocs)
        {
            if (r.Kind == AddressKind.IPv4 && !_hasV4) { _sourceV4 = IpPacket.Bits(r); _hasV4 = true; }
            if (r.Kind == AddressKind.IPv6 && !_hasV6) { _sourceV6 = IpPacket.Bits(r); _hasV6 = true; }
        }

        _canSendTo = a => a.Kind == AddressKind.IPv4 ? _hasV4 : a.Kind == AddressKind.IPv6 && _hasV6;
        // Our locators are all up as far as this xTR knows (it would not run otherwise); at most 8 fit beside an instance ID.
        _lsbs = settings.LocalRlocs.Count >= 8 ? 0xFF : (1u << settings.LocalRlocs.Count) - 1;
        _random = (uint)RandomNumberGenerator.GetInt32(1, int.MaxValue);
        if (settings.MissQueueDepth > 0 && settings.MissQueueDestinations > 0)
        {
            _held = new MissQueue(settings.MissQueueDestinations, settings.MissQueueDepth, settings.LinkMtu, settings.MissHoldTime);
        }
    }

    /// <summary>Whether packets wait for a Map-Reply (the caller then calls <see cref="TryRelease"/> often).</summary>
    public bool HasHeld => _held is { IsEmpty: false };

    /// <summary>
    /// Encapsulates the inner packet at <paramref name="buffer"/>[<paramref name="innerOffset"/>..+<paramref name="innerLength"/>]
    /// (<see cref="Headroom"/> bytes free before it). On <see cref="ItrVerdict.Encapsulated"/> and <see cref="ItrVerdict.Native"/>
    /// the packet to send is <paramref name="buffer"/>[<paramref name="output"/>]; on <see cref="ItrVerdict.IcmpReply"/> the
    /// error is <paramref name="icmp"/>[<paramref name="output"/>].
    /// </summary>
    public ItrVerdict Encapsulate(Span<byte> buffer, int innerOffset, int innerLength, DateTimeOffset now, Span<byte> icmp, out Range output) =>
        Encapsulate(buffer, innerOffset, innerLength, now, icmp, held: false, out output);

    /// <summary>
    /// The next held packet whose destination now has a map-cache entry, encapsulated (or answered, or dropped) as
    /// <see cref="Encapsulate(Span{byte}, int, int, DateTimeOffset, Span{byte}, out Range)"/> would, in
    /// <paramref name="buffer"/> (at least <see cref="Headroom"/> + the link MTU long); false when none is ready. Packets
    /// whose resolution outlived the hold time are dropped and counted (<see cref="DataPlaneDrop.ResolveFailed"/>).
    /// </summary>
    public bool TryRelease(Span<byte> buffer, DateTimeOffset now, Span<byte> icmp, out ItrVerdict verdict, out Range output)
    {
        verdict = ItrVerdict.Dropped;
        output = default;
        if (_held is null || _held.IsEmpty) return false;
        var hasIid = _settings.InstanceId is not null;
        var iid = _settings.InstanceId ?? 0;
        var snapshot = _snapshot();
        for (var d = _held.Next(0, now.UtcTicks, out var kind, out var destination, out var expired); d >= 0;
             d = _held.Next(d + 1, now.UtcTicks, out kind, out destination, out expired))
        {
            if (snapshot.Lookup(kind, hasIid, iid, destination, now) is null)
            {
                if (!expired) continue;
                for (var n = _held.Discard(d); n > 0; n--) _counters.Drop(DataPlaneDrop.ResolveFailed);
                continue;
            }

            var length = _held.Take(d, buffer[Headroom..]);
            if (length == 0) continue;
            verdict = Encapsulate(buffer, Headroom, length, now, icmp, held: true, out output);
            return true;
        }

        return false;
    }

    private ItrVerdict Encapsulate(Span<byte> buffer, int innerOffset, int innerLength, DateTimeOffset now, Span<byte> icmp, bool held, out Range output)
    {
        output = default;
        var inner = buffer.Slice(innerOffset, innerLength);
        if (!IpPacket.TryRead(inner, out var ip)) return Drop(DataPlaneDrop.BadInnerPacket);
        if (ip.Ttl == 0) return Drop(DataPlaneDrop.TtlExpired);
        if (!IsGlobalUnicast(ip.Kind, ip.Destination)) return Drop(DataPlaneDrop.NotUnicast);
        inner = inner[..ip.Length];

        var entry = _snapshot().Lookup(ip.Kind, _settings.InstanceId is not null, _settings.InstanceId ?? 0, ip.Destination, now);
        if (entry is null)
        {
            Miss(ip, now);
            if (_held is null || held) return Drop(DataPlaneDrop.MapCacheMiss);
            if (!_held.TryHold(ip.Kind, ip.Destination, inner, now.UtcTicks)) return Drop(DataPlaneDrop.MissQueueFull);
            _counters.Hold();
            return ItrVerdict.Held;
        }

        entry.NoteDataUse(now.UtcTicks);
        if (entry.IsNegative)
        {
            switch (entry.Action)
            {
                case MapReplyAction.NativelyForward:
                    _counters.Native();
                    output = new Range(innerOffset, innerOffset + ip.Length);
                    return ItrVerdict.Native;
                case MapReplyAction.SendMapRequest:
                    Miss(ip, now);
                    // A held packet met the answer to its own Map-Request: a negative one.
                    return Drop(held ? DataPlaneDrop.NegativeEntry : DataPlaneDrop.MapCacheMiss);
                default:
                    return Drop(DataPlaneDrop.NegativeEntry);
            }
        }

        var hash = ip.FlowHash;
        if (RlocSelector.Select(entry.LocatorArray, hash, _canSendTo) is not { } rloc) return Drop(DataPlaneDrop.NoUsableRloc);
        var v4 = rloc.Address.Kind == AddressKind.IPv4;
        var overhead = v4 ? PacketWriter.IPv4Overhead : PacketWriter.IPv6Overhead;
        if (ip.Length + overhead > _settings.LinkMtu)
        {
            if (!ip.DontFragment) return Drop(DataPlaneDrop.TooBigNoDf);
            _counters.Drop(DataPlaneDrop.TooBig);
            output = new Range(0, PacketWriter.TooBig(inner, ip, ip.Destination, _settings.LinkMtu - overhead, icmp));
            return ItrVerdict.IcmpReply;
        }

        var start = innerOffset - overhead;
        if (start < 0) throw new ArgumentOutOfRangeException(nameof(innerOffset), $"the inner packet needs {overhead} bytes before it");
        var header = new DataPlaneHeader
        {
            NoncePresent = true, NonceOrMapVersion = NextNonce(), InstanceIdPresent = true, InstanceId = _settings.InstanceId ?? 0,
            LocatorStatusBitsEnabled = true, LocatorStatusBits = _lsbs,
        };
        header.Write(buffer[(innerOffset - DataPlaneHeader.Length)..]);
        // Ephemeral range 49152-65535 from the flow hash: one flow one port, flows spread over ECMP paths and receive queues.
        var sourcePort = (ushort)(49152 + ((hash ^ (hash >> 16)) & 0x3FFF));
        var udpPayload = DataPlaneHeader.Length + ip.Length;
        var packet = buffer[start..];
        var destination = IpPacket.Bits(rloc.Address);
        if (v4) PacketWriter.IPv4(packet, (uint)_sourceV4, (uint)destination, ip.TrafficClass, ip.Ttl, sourcePort, udpPayload);
        else PacketWriter.IPv6(packet, _sourceV6, destination, ip.TrafficClass, ip.Ttl, hash, sourcePort, udpPayload);
        _counters.Encapsulation();
        output = new Range(start, innerOffset + ip.Length);
        return ItrVerdict.Encapsulated;
    }

    // IPv4: not 0/8, 169.254/16 or 224/4 and above (multicast, reserved, broadcast). IPv6: not ::, ff00::/8 or fe80::/10.
    private static bool IsGlobalUnicast(AddressKind kind, UInt128 address)
    {
        if (kind == AddressKind.IPv4)
        {
            var top = (uint)address >> 24;
            return top is not 0 and < 224 && (uint)address >> 16 != 0xA9FE;
        }

        var high = (ushort)(address >> 112);
        return address != UInt128.Zero && high >> 8 != 0xFF && (high & 0xFFC0) != 0xFE80;
    }

    private void Miss(in IpPacket ip, DateTimeOffset now)
    {
        if (!_misses.TryPass(ip.Destination ^ (UInt128)(byte)ip.Kind << 120, now.UtcTicks)) return;
        var address = ip.Kind == AddressKind.IPv4
            ? LispAddress.IPv4((uint)ip.Destination)
            : LispAddress.IPv6((ulong)(ip.Destination >> 64), (ulong)ip.Destination);
        _signals.MapCacheMiss(address.WithInstanceId(_settings.InstanceId));
    }

    private ItrVerdict Drop(DataPlaneDrop reason)
    {
        _counters.Drop(reason);
        return ItrVerdict.Dropped;
    }

    // xorshift32: a random 24-bit nonce per packet without a syscall; not a secret, only a hint against spoofed echoes.
    private uint NextNonce()
    {
        var x = _random;
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        _random = x;
        return x & 0xFFFFFF;
    }
}
