using System.Collections.Concurrent;
using System.Net;
using LispMobility.Lisp.Addressing;
using LispMobility.Lisp.Auth;
using LispMobility.Lisp.Messages;
using LispMobility.Lisp.Records;
using LispMobility.MappingSystem.Configuration;
using LispMobility.MappingSystem.Registrations;
using LispMobility.Platform;
using Microsoft.Extensions.Logging;

namespace LispMobility.MappingSystem.Serving;

/// <summary>
/// The Map-Server's registrations (RFC 9301 §8.2): authenticates Map-Registers (outside the lock), admits them past the
/// replay guard, keeps the registrations with their expiry and the registrants they share, and acknowledges them with a
/// Map-Notify. A move or a withdrawal is news for the <see cref="Notifier"/>.
/// </summary>
internal sealed class RegistrationHandler(ServerContext context, Notifier notifier)
{
    private readonly RegistrationTable _table = new(context.Options.ExpectedRegistrations);
    // Deadlines as UTC ticks: an item is 16 bytes, not 24 (one per registration, issue #18).
    private readonly PriorityQueue<EtrRegistration, long> _expiry = new(context.Options.ExpectedRegistrations);
    private readonly ReplayGuard _replay = new(context.Options.ReplayWindowSize, context.Options.ReplayStateIdle);
    private readonly Dictionary<RegistrantId, Registrant> _registrantsById = [];
    // How many registrations each source address holds now (under the lock), and the addresses holding any, which the
    // receive path reads without the lock (their Map-Requests get the registered rate). The set changes only when a count
    // leaves or reaches zero: a concurrent dictionary's write takes a lock of its own, once per new registration (issue #18).
    private readonly Dictionary<IPAddress, int> _holds = [];
    private readonly ConcurrentDictionary<IPAddress, byte> _registrants = new();

    [ThreadStatic]
    private static List<Site>? t_candidates;

    private MapServerCounters Counters => context.Counters;

    /// <summary>The registered EID-prefixes (under the lock).</summary>
    public RegistrationTable Table => _table;

    /// <summary>Registrants whose replay state is kept (under the lock).</summary>
    public int ReplayStateCount => _replay.Count;

    /// <summary>Whether <paramref name="address"/> holds a registration now (without the lock).</summary>
    public bool IsRegistrant(IPAddress address) => _registrants.ContainsKey(address);

    /// <summary>The earliest expiry deadline queued, if any (under the lock).</summary>
    public DateTimeOffset? NextExpiry => _expiry.TryPeek(out _, out var e) ? new DateTimeOffset(e, TimeSpan.Zero) : null;

    /// <summary>Forgets replay state of registrants idle too long (under the lock).</summary>
    public void SweepReplay(DateTimeOffset now) => _replay.Sweep(now);

    /// <summary>A Map-Register: verified, applied under the lock, acknowledged when it asks to be.</summary>
    public void HandleRegister(ReadOnlySpan<byte> datagram, IPEndPoint source, IDatagramSink sink, List<MapServerEvent> events)
    {
        if (!MapRegister.TryReadView(datagram, out var view, out var error))
        {
            Counters.Reject(RejectReason.Malformed);
            MapServerLog.Malformed(context.Logger, "Map-Register", source, error.ToString());
            return;
        }

        if (view.Algorithm == AuthAlgorithm.None)
        {
            context.Reject(RejectReason.NoAuthentication, source, "Map-Register without authentication");
            return;
        }

        if (view.RecordCount == 0)
        {
            context.Reject(RejectReason.NoSite, source, "Map-Register with no records");
            return;
        }

        EidPrefix first = default;
        foreach (var r in view.Records) { first = r.Eid; break; }

        var candidates = t_candidates ??= new List<Site>(4);
        context.Sites.Candidates(first, candidates);
        if (candidates.Count == 0)
        {
            context.Reject(RejectReason.NoSite, source, $"no site admits {first}");
            return;
        }

        // Several sites may admit one dynamic-EID range; the key that verifies names the site.
        Site? site = null;
        SiteKey? key = null;
        var anyKey = false;
        foreach (var candidate in candidates)
        {
            if (!candidate.Keys.TryGetValue(view.KeyId, out var k) || k.Algorithm != view.Algorithm) continue;
            anyKey = true;
            if (view.VerifyAuthentication(k.Secret, AuthPurpose.MapRegister))
            {
                site = candidate;
                key = k;
                break;
            }
        }

        if (site is null || key is null)
        {
            context.Reject(anyKey ? RejectReason.AuthenticationFailed : RejectReason.UnknownKey, source,
                anyKey ? $"authentication failed for {first} (key-id {view.KeyId})" : $"no key-id {view.KeyId} with {view.Algorithm} at the sites of {first}");
            return;
        }

        // The records are read in place, never copied: a copy per Map-Register (the record, its locator array, the array of
        // records) was garbage as soon as the registrant's shared locator array matched (issue #18).
        var message = new RegisterBits(view.Flags);
        var longest = TimeSpan.Zero;
        foreach (var r in view.Records)
        {
            if (site.Admit(r.Eid) is null)
            {
                context.Reject(RejectReason.EidOutsideSite, source, $"{r.Eid} is outside site {site.Name}");
                return;
            }

            var lifetime = Lifetime(r.Ttl, message);
            if (lifetime > longest) longest = lifetime;
        }

        if (site.AllowedRlocs is { } allowed)
        {
            foreach (var rec in view.Records)
            {
                foreach (var l in rec.Locators)
                {
                    if (!allowed.Contains(l.Address.WithInstanceId(null)))
                    {
                        context.Reject(RejectReason.RlocNotAllowed, source, $"RLOC {l.Address} is not allowed for site {site.Name}");
                        return;
                    }
                }
            }
        }

        var nonce = view.Nonce;
        var id = view.XtrId is { } x ? new RegistrantId(x, true) : RegistrantId.FromAddress(source.Address);
        var now = context.Time.GetUtcNow();
        var stale = false;
        lock (context.Gate)
        {
            // RFC 9301 lets an ETR that asks for no Map-Notify send nonce 0 every time; such registrations have no replay
            // protection, so they are accepted only from sites configured for it.
            var zeroNonceAllowed = nonce == 0 && !message.WantMapNotify && site.AcceptZeroNonce;
            if (!zeroNonceAllowed && !_replay.Admit(id, site, view.KeyId, nonce, site.ReplayProtection, now, now + longest, out var why))
            {
                Counters.Reject(RejectReason.Replay);
                MapServerLog.Rejected(context.Logger, RejectReason.Replay, source, why);
                return;
            }

            var from = Intern(id, source, key);
            foreach (var record in view.Records) stale |= !Apply(record, message, site, from, now, sink, events);
            notifier.RetellUndelivered(source, _table);
            notifier.SendAnnouncements(now, sink);

            // SMRs not held back by their rate limit go now: waiting for the timer loop would add up to its period to every move.
            notifier.SendSmrsDue(now, sink, events);
        }

        Counters.RegisterAccepted();
        // A skipped record must not look acknowledged: without its Map-Notify the registrant registers again, and by then it
        // has heard the news it crossed (and either gave the EID up or, the host being there, registers it anew).
        if (message.WantMapNotify && !stale)
        {
            sink.Send(NotifyFor(view, key), context.NotifyDestination(source));
            Counters.MapNotifySent();
        }
    }

    // How long a registered record lives: its TTL under the T bit, else the registration timeout (RFC 9301 §8.2).
    private TimeSpan Lifetime(uint ttl, RegisterBits message) =>
        message.UseTtlForTimeout && ttl != MappingRecord.TtlLocalPolicy ? TimeSpan.FromMinutes(ttl) : context.Options.RegistrationTimeout;

    // The Map-Notify echoes the Map-Register byte for byte (records, xTR-ID, site-ID, MAC length) under its own
    // type and flags and MAC (RFC 9301 §5.7), so it is built by patching a copy rather than re-serializing.
    private static byte[] NotifyFor(AuthenticatedMessageView register, SiteKey key)
    {
        var notify = register.Bytes.ToArray();
        notify[0] = (byte)((int)LispMessageType.MapNotify << 4 | (register.XtrId.HasValue ? NotifyIBit >> 16 : 0));
        notify[1] = 0;
        notify[2] = 0;
        notify.AsSpan(register.AuthenticationOffset, register.AuthenticationLength).Clear();
        LispAuthentication.Sign(notify, register.AuthenticationOffset, register.AuthenticationLength, register.Algorithm, key.Secret, register.Nonce, AuthPurpose.MapNotify);
        return notify;
    }

    // Map-Register flag bits (RFC 9301 §5.6) and the Map-Notify I bit, in the 24 bits after the type.
    private const int ProxyBit = 1 << 19, TtlTimeoutBit = 1 << 3, MergeBit = 1 << 2, WantNotifyBit = 1, NotifyIBit = 1 << 19;

    /// <summary>The Map-Register flags the Map-Server acts on.</summary>
    private readonly record struct RegisterBits(int Flags)
    {
        public bool ProxyMapReply => (Flags & ProxyBit) != 0;
        public bool UseTtlForTimeout => (Flags & TtlTimeoutBit) != 0;
        public bool MergeRequest => (Flags & MergeBit) != 0;
        public bool WantMapNotify => (Flags & WantNotifyBit) != 0;
    }

    // Under the lock. False when the record was skipped as crossing the news (CrossedTheNews).
    private bool Apply(MappingRecordView record, RegisterBits message, Site site, Registrant from, DateTimeOffset now, IDatagramSink sink,
        List<MapServerEvent> events)
    {
        var id = from.Id;
        var source = from.EndPoint;
        var prefix = record.Eid;
        var hasEntry = _table.TryGet(prefix, out var entry);
        if (record.Ttl == 0)
        {
            if (hasEntry && entry.Site == site && entry.Etrs.FindById(id) is { } gone)
            {
                RemoveEtr(entry, gone, now, expired: false, sink, events);
                Counters.RegistrationWithdrawn();
            }

            return true;
        }

        var lifetime = Lifetime(record.Ttl, message);

        // An xTR registers its many EIDs with the same RLOC set: one array for all of them, not one each.
        var locators = from.LastLocators is { } shared && SameLocators(shared, record) ? shared : from.LastLocators = CopyLocators(record);
        if (!hasEntry)
        {
            if (notifier.CrossedTheNews(source, prefix, "is registered nowhere since this registrant lost it", sink)) return false;

            entry = new RegisteredEid(prefix, site);
            // A more-specific (a VM's /32) appearing under a covering prefix registered by someone else
            // is a move away from them: they must stop attracting that EID.
            var covering = prefix.MaskLength > 0 ? _table.Lookup(prefix.Address, prefix.MaskLength - 1) : null;
            var previous = covering is null ? null : Others(covering, id);
            var etr = NewEtr(from, locators, record, message, now, lifetime, entry);
            entry.Etrs.Add(etr);
            _table.Add(entry);
            if (context.Observed) events.Add(new EidRegistered(now, prefix, site.Name, locators, source));
            if (context.Logger.IsEnabled(LogLevel.Debug)) MapServerLog.Registered(context.Logger, prefix.ToString(), site.Name, source);
            if (previous is { Count: > 0 }) notifier.AnnounceMove(entry, covering!.Site.Name, previous, now, events);

            // The other order, as after a Map-Server restart: a site's aggregate registered after more-specifics other sites
            // hold under it. Its xTR must learn they are away, or it keeps attracting them. Aggregates are rare: a scan is fine.
            if (!prefix.IsHost) AnnounceAggregate(prefix, site, etr, now, events);

            notifier.MappingChanged(prefix, now);
            return true;
        }

        var existing = entry.Etrs.FindById(id);
        if (entry.Site != site || existing is null && !message.MergeRequest)
        {
            if (notifier.CrossedTheNews(source, prefix, $"moved to site {entry.Site.Name}", sink)) return false;

            // Another site (or, without merge, another ETR) now holds the EID: replace, and tell the previous ones.
            var fromSite = entry.Site.Name;
            var previous = Others(entry, id);
            HoldsAgain(entry, source.Address);
            foreach (var p in previous)
            {
                CountRegistrant(p.Registrant.Address, -1);
                p.Removed = true;
            }

            RemoveOthers(entry, id);
            entry.Site = site;
            if (existing is null) entry.Etrs.Add(NewEtr(from, locators, record, message, now, lifetime, entry));
            else Refresh(existing, from, locators, record, message, now, lifetime);
            notifier.AnnounceMove(entry, fromSite, previous, now, events);
            // The registrant takes the EID back in the Map-Register whose aggregate (applied first) queued the news that it
            // lost it: that news is stale before it leaves, and would leave the registrant away for an EID it holds.
            notifier.Unannounce(source.Address, prefix);
            notifier.MappingChanged(prefix, now);
            return true;
        }

        if (existing is null)
        {
            var joined = NewEtr(from, locators, record, message, now, lifetime, entry);
            entry.Etrs.Add(joined);
            if (!prefix.IsHost) RetellAggregate(prefix, site, joined);
            notifier.MappingChanged(prefix, now);
            return true;
        }

        var changed = !existing.Locators.AsSpan().SequenceEqual(locators);
        Refresh(existing, from, locators, record, message, now, lifetime);
        if (!prefix.IsHost) RetellAggregate(prefix, site, existing);
        if (changed) notifier.MappingChanged(prefix, now);
        return true;
    }

    // The helpers below keep Apply free of lambdas over its locals: the compiler would build their closure object on every
    // Map-Register, the common ones included (issue #18).
    private static List<EtrRegistration> Others(RegisteredEid entry, RegistrantId id) => entry.Etrs.Where(e => e.Id != id).ToList();

    private static void RemoveOthers(RegisteredEid entry, RegistrantId id) => entry.Etrs.RemoveAll(e => e.Id != id);

    // The registrant holds the EID again: it is no longer away there.
    private static void HoldsAgain(RegisteredEid entry, IPAddress registrant) => entry.AwayAt?.RemoveAll(a => a.Destination.Address.Equals(registrant));

    // A site's aggregate registered after more-specifics other sites hold under it (see Apply).
    private void AnnounceAggregate(EidPrefix prefix, Site site, EtrRegistration etr, DateTimeOffset now, List<MapServerEvent> events)
    {
        foreach (var away in HeldElsewhere(prefix, site)) notifier.AnnounceMove(away, site.Name, [etr], now, events);
    }

    // Every registration of an aggregate that is not new (a refresh, or another xTR of the site joining it) tells its
    // registrant again of the more-specifics other sites hold under it. An xTR that acknowledged the news and then lost
    // it (killed before it journaled the away state, restarted) registers its aggregate again as a mere refresh, and
    // would otherwise attract those EIDs for good; a second xTR joining the site was never told. Already-away xTRs ack
    // and ignore it. Such EIDs were announced as moved (at their move, or when the aggregate was new): only those are looked at.
    private void RetellAggregate(EidPrefix prefix, Site site, EtrRegistration etr)
    {
        foreach (var away in notifier.Moved)
        {
            if (IsHeldElsewhere(away, prefix, site)) notifier.Retell(away, etr);
        }
    }

    private List<RegisteredEid> HeldElsewhere(EidPrefix prefix, Site site) => _table.All.Where(m => IsHeldElsewhere(m, prefix, site)).ToList();

    private static bool IsHeldElsewhere(RegisteredEid entry, EidPrefix prefix, Site site) =>
        entry.Site != site && entry.Prefix.MaskLength > prefix.MaskLength && prefix.Contains(entry.Prefix.Address);

    private static bool SameLocators(Locator[] locators, MappingRecordView record)
    {
        if (locators.Length != record.LocatorCount) return false;
        var i = 0;
        foreach (var l in record.Locators)
        {
            if (!locators[i++].Equals(l)) return false;
        }

        return true;
    }

    private static Locator[] CopyLocators(MappingRecordView record)
    {
        var locators = new Locator[record.LocatorCount];
        var i = 0;
        foreach (var l in record.Locators) locators[i++] = l;
        return locators;
    }

    private EtrRegistration NewEtr(Registrant from, Locator[] locators, MappingRecordView record, RegisterBits message, DateTimeOffset now,
        TimeSpan lifetime, RegisteredEid owner)
    {
        var etr = new EtrRegistration
        {
            From = from, Locators = locators, Ttl = record.Ttl, MapVersion = record.MapVersion,
            ProxyReply = message.ProxyMapReply, Merge = message.MergeRequest, LastRegistered = now, ExpiresAt = now + lifetime, Owner = owner,
        };
        QueueExpiry(etr, etr.ExpiresAt.UtcTicks);
        CountRegistrant(from.EndPoint.Address, +1);
        return etr;
    }

    private void Refresh(EtrRegistration etr, Registrant from, Locator[] locators, MappingRecordView record, RegisterBits message,
        DateTimeOffset now, TimeSpan lifetime)
    {
        if (!etr.Registrant.Address.Equals(from.EndPoint.Address))
        {
            CountRegistrant(etr.Registrant.Address, -1);
            CountRegistrant(from.EndPoint.Address, +1);
        }

        etr.From = from;
        etr.Locators = locators;
        etr.Ttl = record.Ttl;
        etr.MapVersion = record.MapVersion;
        etr.ProxyReply = message.ProxyMapReply;
        etr.Merge = message.MergeRequest;
        etr.LastRegistered = now;
        var expires = now + lifetime;
        // A later deadline is not queued: the queue item of the earlier one, when due, finds the registration refreshed and
        // queues it again then (ExpireDue). Queuing every refresh grew the queue by one item per registration and refresh
        // interval until the items came due, minutes later (issue #18). An earlier deadline must be queued now.
        if (expires < etr.ExpiresAt) QueueExpiry(etr, expires.UtcTicks);
        etr.ExpiresAt = expires;
    }

    // Under the lock.
    private void RemoveEtr(RegisteredEid entry, EtrRegistration etr, DateTimeOffset now, bool expired, IDatagramSink sink, List<MapServerEvent> events)
    {
        if (!etr.Removed) CountRegistrant(etr.Registrant.Address, -1);
        etr.Removed = true;
        entry.Etrs.Remove(etr);
        if (entry.Etrs.Count == 0)
        {
            _table.Remove(entry);
            notifier.AnnounceGone(entry);
            events.Add(new EidUnregistered(now, entry.Prefix, entry.Site.Name, expired));
            if (context.Logger.IsEnabled(LogLevel.Debug)) MapServerLog.Unregistered(context.Logger, entry.Prefix.ToString(), entry.Site.Name, expired);
        }

        notifier.MappingChanged(entry.Prefix, now);
        notifier.SendSmrsDue(now, sink, events);
    }

    // Under the lock. One queue item per registration stands for it: the last queued (see ExpireDue).
    private void QueueExpiry(EtrRegistration etr, long utcTicks)
    {
        etr.QueuedFor = utcTicks;
        _expiry.Enqueue(etr, utcTicks);
    }

    // Under the lock. The registrant as its registrations share it: a new one when it registers from another address or with
    // another key (the registrations it has not refreshed since keep the old one, as they kept their own copies before).
    private Registrant Intern(RegistrantId id, IPEndPoint source, SiteKey key)
    {
        ref var slot = ref System.Runtime.InteropServices.CollectionsMarshal.GetValueRefOrAddDefault(_registrantsById, id, out _);
        if (slot is null || !ReferenceEquals(slot.Key, key) || !slot.EndPoint.Equals(source))
        {
            slot = new Registrant(id, source, key) { LastLocators = slot?.LastLocators };
        }

        return slot;
    }

    // Under the lock.
    private void CountRegistrant(IPAddress address, int delta)
    {
        ref var count = ref System.Runtime.InteropServices.CollectionsMarshal.GetValueRefOrAddDefault(_holds, address, out var held);
        count += delta; // 0 when not held before: no count is kept at zero or below
        if (count > 0)
        {
            if (!held) _registrants[address] = 0;
            return;
        }

        _holds.Remove(address);
        _registrants.TryRemove(address, out _);
    }

    /// <summary>Removes the registrations whose deadline passed (under the lock).</summary>
    public void ExpireDue(DateTimeOffset now, IDatagramSink sink, List<MapServerEvent> events)
    {
        while (_expiry.TryPeek(out var etr, out var due) && due <= now.UtcTicks)
        {
            _expiry.Dequeue();
            // Removed, or an item superseded by a later-queued earlier deadline (which stands for the registration now).
            if (etr.Removed || etr.Owner is null || etr.QueuedFor != due) continue;
            if (etr.ExpiresAt > now)
            {
                QueueExpiry(etr, etr.ExpiresAt.UtcTicks); // refreshed since it was queued: wait for its deadline now
                continue;
            }

            RemoveEtr(etr.Owner, etr, now, expired: true, sink, events);
            Counters.RegistrationExpired();
        }

        notifier.SendAnnouncements(now, sink);
    }
}
