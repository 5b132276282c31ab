using System.Net;
using LispMobility.Lisp.Addressing;
using LispMobility.Lisp.Records;
using LispMobility.Platform.Routing;
using LispMobility.Xtr.Routing;

namespace LispMobility.Xtr.Roles;

/// <summary>
/// The hosts another site holds now (RFC 9301 §5.7, eid-mobility): marked away here with a blackhole, so this site stops
/// attracting their traffic, and cleared when their /32 is gone from the mapping system. Told by the Map-Server's news, a
/// map-notify group, or (a caller that learned it otherwise) <see cref="GoAway"/> directly. Called under the engine's lock.
/// </summary>
internal sealed class AwayState(XtrSite site, HostTable hosts, Registrar registrar)
{
    public bool IsAway(LispAddress eid) => hosts.Get(eid)?.State == HostState.Away;

    /// <summary>Applies a Map-Server's unsolicited Map-Notify: each /32 of ours now elsewhere goes away, each withdrawn one is cleared.</summary>
    public void ApplyNews(IReadOnlyList<MappingRecord> records, IPEndPoint source, XtrCall call)
    {
        foreach (var record in records)
        {
            if (site.IsOurs(record.Locators) || !record.Eid.IsHost) continue;
            if (record.Locators.Count == 0) Clear(record.Eid, call, anyState: true);
            else GoAway(record.Eid, record.Locators, source, call);
        }
    }

    /// <summary>
    /// Another site holds <paramref name="eid"/>: blackhole it here. A group tells every xTR on the LAN of every host
    /// (<paramref name="onlyKnown"/>): only a host this xTR holds goes away; the Map-Server tells only a previous registrant,
    /// which may have forgotten the host (a restart) and must still blackhole it — if it is inside one of our ranges.
    /// </summary>
    public void GoAway(EidPrefix eid, IReadOnlyList<Locator> locators, IPEndPoint source, XtrCall call, bool onlyKnown = false)
    {
        var address = eid.Address;
        var range = site.RangeOf(address);
        if (!hosts.TryGet(address, out var host) && (range is null || onlyKnown)) return;
        if (host is null)
        {
            host = new DynamicHost { Eid = eid, Range = range!.Value.Options.Name, Interface = null };
            hosts.Put(host);
        }

        if (host.State == HostState.Away) return;
        // A withdrawal is moot once another site holds the EID: the Map-Server dropped our registration.
        registrar.Abandon(host, $"{host.Eid} registered by another site while its registration here was in progress", call);
        host.State = HostState.Away;
        host.Since = call.Now;
        site.Routes.Enqueue(RouteChange.Blackhole(address.ToIPAddress()));
        site.Counters.WentAway();
        call.Events.Add(new HostAway(call.Now, host.Eid, locators, source));
        XtrLog.Away(site.Logger, host.Eid.ToString(), source);
    }

    /// <summary>
    /// The /32 is gone from the mapping system (withdrawn as it went home, or expired), or a sibling xTR holds it here: the
    /// away state and its blackhole go, so the covering prefix serves the EID again. With <paramref name="anyState"/> (the
    /// Map-Server's news), a host still registered here is given up too: the news of its loss was lost on the way.
    /// </summary>
    public void Clear(EidPrefix eid, XtrCall call, bool anyState)
    {
        if (!hosts.TryGet(eid.Address, out var host) || !anyState && host.State != HostState.Away) return;
        var was = host.State;
        registrar.Abandon(host, $"{host.Eid} was taken by another site and is now registered nowhere", call);
        hosts.Forget(host);
        site.Routes.Enqueue(RouteChange.Removal(eid.Address.ToIPAddress()));
        call.Events.Add(new HostAwayCleared(call.Now, eid));
        XtrLog.AwayCleared(site.Logger, eid.ToString(), was.ToString());
    }
}
