using System.Globalization;
using System.Net;
using System.Text;
using LispMobility.Lisp;
using LispMobility.Lisp.Addressing;
using LispMobility.Lisp.Messages;
using LispMobility.Lisp.Records;
using LispMobility.Xtr.Configuration;
using LispMobility.Platform.Routing;
using LispMobility.Xtr.Routing;
using Microsoft.Extensions.Logging;

namespace LispMobility.Xtr.Roles;

/// <summary>What every role reads and none changes: the site's configuration, its RLOCs and peers, time, nonces, counters, log, route output.</summary>
internal sealed class XtrSite
{
    public XtrSite(XtrOptions options, IRouteChangeSink routes, TimeProvider time, NonceSource nonces, ILogger logger)
    {
        Options = options;
        Routes = routes;
        Time = time;
        Nonces = nonces;
        Logger = logger;
        Rlocs = options.Rlocs.Select(r => new Locator(LispAddress.Parse(r.Address), r.Priority, r.Weight, Local: true)).ToArray();
        _rlocAddresses = Rlocs.Select(r => r.Address).ToHashSet();
        MapServers = options.MapServers.Select((m, i) => new MapServerPeer(i, IPEndPoint.Parse(m.Address), m, Encoding.UTF8.GetBytes(m.Key))).ToArray();
        StaticPrefixes = options.DatabaseMappings.Select(EidPrefix.Parse).ToArray();
        Ranges = options.DynamicEids.Select(d => (d, EidPrefix.Parse(d.Prefix))).ToArray();
        XtrId = string.IsNullOrEmpty(options.XtrId) ? DeriveXtrId(options) : UInt128.Parse(options.XtrId, NumberStyles.HexNumber, CultureInfo.InvariantCulture);
    }

    private readonly HashSet<LispAddress> _rlocAddresses;

    public XtrOptions Options { get; }
    public IRouteChangeSink Routes { get; }
    public TimeProvider Time { get; }
    public NonceSource Nonces { get; }
    public ILogger Logger { get; }
    public XtrCounters Counters { get; } = new();
    public UInt128 XtrId { get; }
    public Locator[] Rlocs { get; }
    public MapServerPeer[] MapServers { get; }
    public EidPrefix[] StaticPrefixes { get; }
    public (DynamicEidOptions Options, EidPrefix Prefix)[] Ranges { get; }

    /// <summary>The UDP port the control plane listens on (set by the shell once bound).</summary>
    public int ControlPort { get; set; } = LispPorts.Control;

    public bool IsOwnRloc(LispAddress address) => _rlocAddresses.Contains(address);

    public bool IsOurs(IReadOnlyList<Locator> locators)
    {
        foreach (var l in locators)
        {
            if (_rlocAddresses.Contains(l.Address)) return true;
        }

        return false;
    }

    public (DynamicEidOptions Options, EidPrefix Prefix)? RangeOf(LispAddress eid)
    {
        foreach (var r in Ranges)
        {
            if (r.Prefix.Contains(eid)) return r;
        }

        return null;
    }

    /// <summary>Our RLOC of the EID's family (the ITR-RLOC and SMR source), else the first.</summary>
    public LispAddress RlocFor(LispAddress eid)
    {
        foreach (var r in Rlocs)
        {
            if (r.Address.Kind == eid.Kind) return r.Address;
        }

        return Rlocs[0].Address;
    }

    /// <summary>This site's authoritative record for <paramref name="eid"/>.</summary>
    public MappingRecord LocalRecord(EidPrefix eid) => new() { Eid = eid, Ttl = Options.RecordTtlMinutes, Authoritative = true, Locators = Rlocs };

    private static UInt128 DeriveXtrId(XtrOptions options)
    {
        var bytes = System.Security.Cryptography.SHA256.HashData(Encoding.UTF8.GetBytes(options.Site + "|" + string.Join(",", options.Rlocs.Select(r => r.Address))));
        return new UInt128(BitConverter.ToUInt64(bytes, 0), BitConverter.ToUInt64(bytes, 8));
    }
}

/// <summary>A Map-Server and its key.</summary>
internal sealed record MapServerPeer(int Index, IPEndPoint Endpoint, MapServerPeerOptions Options, byte[] Key)
{
    public DateTimeOffset? LastAcknowledged { get; set; }

    /// <summary>When a Map-Register last went to it; null while this xTR had nothing to register.</summary>
    public DateTimeOffset? LastSent { get; set; }

    /// <summary>The nonces of this Map-Server's news (unsolicited Map-Notifies) applied lately.</summary>
    public RecentNonces News { get; } = new(capacity: 4096, retention: TimeSpan.FromMinutes(10));

    public override string ToString() => Endpoint.ToString();
}

/// <summary>
/// Nonces seen lately, bounded in count and age: a Map-Server retransmits its news (the same datagram) for a few minutes
/// at most, and only authenticated news is remembered, so a stranger cannot fill it.
/// </summary>
internal sealed class RecentNonces(int capacity, TimeSpan retention)
{
    private readonly HashSet<ulong> _set = [];
    private readonly Queue<(ulong Nonce, DateTimeOffset Seen)> _order = new();

    /// <summary>Remembers <paramref name="nonce"/>; false when it was already remembered.</summary>
    public bool Add(ulong nonce, DateTimeOffset now)
    {
        while (_order.Count > 0 && (_order.Count >= capacity || _order.Peek().Seen < now - retention)) _set.Remove(_order.Dequeue().Nonce);
        if (!_set.Add(nonce)) return false;
        _order.Enqueue((nonce, now));
        return true;
    }
}

/// <summary>
/// One engine call's effects besides datagrams: the events to raise and the awaited tasks to complete, both after the
/// engine's lock is released (a continuation must not run under it).
/// </summary>
internal sealed class XtrCall(LispMobility.Platform.IDatagramSink sink, DateTimeOffset now)
{
    public LispMobility.Platform.IDatagramSink Sink { get; } = sink;
    public DateTimeOffset Now { get; } = now;
    public List<XtrEvent> Events { get; } = [];
    public List<Action> Completions { get; } = [];
}
