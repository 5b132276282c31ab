using System.Net;
using LispMobility.Lisp.Addressing;
using LispMobility.Lisp.Records;
using LispMobility.MappingSystem.Configuration;

namespace LispMobility.MappingSystem.Registrations;

/// <summary>One ETR's registration of one EID-prefix.</summary>
internal sealed class EtrRegistration
{
    /// <summary>Who registered, from where, with which key (shared by the registrant's registrations).</summary>
    public required Registrant From { get; set; }
    public RegistrantId Id => From.Id;
    public IPEndPoint Registrant => From.EndPoint;
    public SiteKey Key => From.Key;
    public required Locator[] Locators { get; set; }
    public uint Ttl { get; set; }
    public ushort MapVersion { get; set; }
    public bool ProxyReply { get; set; }
    public bool Merge { get; set; }
    // UTC ticks: a DateTimeOffset field takes 16 bytes, and a Map-Server holds hundreds of thousands of these (issue #18).
    private long _lastRegistered;
    private long _expiresAt;

    /// <summary>The deadline (UTC ticks) of this registration's current item in the Map-Server's expiry queue.</summary>
    public long QueuedFor { get; set; }

    /// <summary>When the ETR last registered (kept as UTC).</summary>
    public DateTimeOffset LastRegistered { get => new(_lastRegistered, TimeSpan.Zero); set => _lastRegistered = value.UtcTicks; }

    /// <summary>When the registration expires unless refreshed (kept as UTC).</summary>
    public DateTimeOffset ExpiresAt { get => new(_expiresAt, TimeSpan.Zero); set => _expiresAt = value.UtcTicks; }
    public bool Removed { get; set; }
    public RegisteredEid? Owner { get; set; }
}

/// <summary>
/// The ETRs that registered one EID-prefix, kept in the prefix's own object: almost every EID has one ETR, and a
/// <see cref="List{T}"/> would add two objects (the list and its array) to each of a Map-Server's hundreds of thousands of
/// registrations, memory the GC copies as they age (issue #18). The first ETR is a field; more go to an array.
/// </summary>
internal abstract class EtrSet : IEnumerable<EtrRegistration>
{
    private EtrRegistration? _first;
    private EtrRegistration[]? _more; // every ETR, once there were two
    private int _count;

    public int Count => _count;

    public EtrRegistration this[int index] =>
        (uint)index < (uint)_count ? (_more is null ? _first! : _more[index]) : throw new ArgumentOutOfRangeException(nameof(index));

    public void Add(EtrRegistration etr)
    {
        if (_more is null && _count == 0)
        {
            _first = etr;
        }
        else
        {
            if (_more is null)
            {
                _more = new EtrRegistration[4];
                _more[0] = _first!;
                _first = null;
            }
            else if (_count == _more.Length)
            {
                Array.Resize(ref _more, _count * 2);
            }

            _more[_count] = etr;
        }

        _count++;
    }

    public EtrRegistration? Find(Predicate<EtrRegistration> match)
    {
        for (var i = 0; i < _count; i++)
        {
            if (match(this[i])) return this[i];
        }

        return null;
    }

    public bool Exists(Predicate<EtrRegistration> match) => Find(match) is not null;

    /// <summary>The registration of <paramref name="id"/>, if any (a loop, not <see cref="Find"/>: no closure per Map-Register).</summary>
    public EtrRegistration? FindById(RegistrantId id)
    {
        for (var i = 0; i < _count; i++)
        {
            if (this[i].Id == id) return this[i];
        }

        return null;
    }

    public bool Remove(EtrRegistration etr) => RemoveAll(e => ReferenceEquals(e, etr)) > 0;

    public int RemoveAll(Predicate<EtrRegistration> match)
    {
        var kept = 0;
        var count = _count;
        for (var i = 0; i < count; i++)
        {
            var e = this[i];
            if (match(e)) continue;
            if (_more is null) _first = e; else _more[kept] = e;
            kept++;
        }

        if (_more is not null) Array.Clear(_more, kept, count - kept);
        else if (kept == 0) _first = null;
        _count = kept;
        return count - kept;
    }

    public IEnumerator<EtrRegistration> GetEnumerator()
    {
        for (var i = 0; i < _count; i++) yield return this[i];
    }

    System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();
}

/// <summary>An EID-prefix with the ETRs of one site that registered it.</summary>
internal sealed class RegisteredEid(EidPrefix prefix, Site site) : EtrSet
{
    private int _roundRobin;

    public EidPrefix Prefix { get; } = prefix;
    public Site Site { get; set; } = site;

    /// <summary>The ETRs (this object itself: see <see cref="EtrSet"/>).</summary>
    public EtrSet Etrs => this;

    /// <summary>
    /// The registrants told that this EID moved away from them (they hold it away): when the EID-prefix is withdrawn or
    /// expires they are told it is gone, or they would blackhole it for good. Null until the first move.
    /// </summary>
    public List<(IPEndPoint Destination, SiteKey Key)>? AwayAt { get; set; }

    public bool ProxyReply => Etrs.Exists(e => e.ProxyReply);

    public uint Ttl => Etrs.Count == 0 ? 0 : Etrs.Min(e => e.Ttl);

    /// <summary>The merged locator set of every ETR (RFC 9301 §8.2, merge semantics), duplicates removed.</summary>
    public Locator[] MergedLocators()
    {
        if (Etrs.Count == 1) return Etrs[0].Locators;
        var seen = new HashSet<LispAddress>();
        var merged = new List<Locator>();
        foreach (var e in Etrs)
        {
            foreach (var l in e.Locators)
            {
                if (seen.Add(l.Address)) merged.Add(l);
            }
        }

        return merged.ToArray();
    }

    public EtrRegistration? NextEtr()
    {
        if (Etrs.Count == 0) return null;
        var i = (int)((uint)Interlocked.Increment(ref _roundRobin) % (uint)Etrs.Count);
        return Etrs[i];
    }
}

/// <summary>A registration as operators list it.</summary>
public sealed record RegistrationInfo(
    EidPrefix Eid, string Site, IReadOnlyList<Locator> Rlocs, DateTimeOffset LastRegistered, DateTimeOffset Expires,
    IPEndPoint Registrant, UInt128? XtrId, bool ProxyReply, uint Ttl);
