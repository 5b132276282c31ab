using System.Globalization;
using System.Net;
using LispMobility.Lisp.Addressing;
using LispMobility.MappingSystem.Configuration;
using LispMobility.Mobility.Configuration;
using LispMobility.Xtr.Configuration;

namespace LispMobility.Agent.Configuration;

/// <summary>Checks between sections of one file that each section alone cannot see: the xTR against the embedded Map-Server it registers with.</summary>
internal static class ConfigCrossChecks
{
    /// <summary>Every disagreement between the xTR, the mobility ranges and the embedded Map-Server; empty without a Map-Server section.</summary>
    public static List<string> Check(MapServerOptions? ms, XtrOptions? xtr, MobilityOptions? mobility)
    {
        var errors = new List<string>();
        if (ms is null) return errors;
        static string I(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);
        var siteIndex = ms.Sites.Select((s, i) => (s, i)).ToDictionary(x => x.s.Name, x => x.i, StringComparer.OrdinalIgnoreCase);
        var names = string.Join(", ", ms.Sites.Select(s => s.Name));

        if (xtr is not null && xtr.Site.Length > 0)
        {
            if (!siteIndex.TryGetValue(xtr.Site, out var si))
            {
                errors.Add($"Xtr.Site: '{xtr.Site}' is not a site of the embedded Map-Server ({names}); correct the name or add the site to MapServer.Sites");
            }
            else
            {
                var site = ms.Sites[si];
                for (var i = 0; i < xtr.DatabaseMappings.Count; i++)
                {
                    if (EidPrefix.TryParse(xtr.DatabaseMappings[i], out var p) && !site.EidPrefixes.Any(e => Covers(e, p, moreSpecific: false)))
                    {
                        errors.Add(I($"Xtr.DatabaseMappings[{i}]: {p} is outside site {site.Name}'s EID prefixes at the embedded Map-Server ({Prefixes(site)}); add it to MapServer.Sites[{si}].EidPrefixes"));
                    }
                }

                for (var i = 0; i < xtr.MapServers.Count; i++)
                {
                    var peer = xtr.MapServers[i];
                    if (!IsEmbedded(peer.Address, ms)) continue;
                    if (site.Keys.Any(k => k.KeyId == peer.KeyId && k.Algorithm == peer.Algorithm && k.Key == peer.Key)) continue;
                    var sameId = site.Keys.FirstOrDefault(k => k.KeyId == peer.KeyId);
                    var what = sameId is null ? I($"key-id {peer.KeyId} is not one of site {site.Name}'s keys ({string.Join(", ", site.Keys.Select(k => k.KeyId))})")
                        : sameId.Algorithm != peer.Algorithm ? $"algorithm {peer.Algorithm} differs from site {site.Name}'s key-id {peer.KeyId} ({sameId.Algorithm})"
                        : I($"the key differs from site {site.Name}'s key-id {peer.KeyId}");
                    errors.Add(I($"Xtr.MapServers[{i}]: {what} at the embedded Map-Server (MapServer.Sites[{si}].Keys); use the same key-id, algorithm and key in both places"));
                }
            }
        }

        for (var i = 0; i < (mobility?.Ranges.Count ?? 0); i++)
        {
            var range = mobility!.Ranges[i];
            if (!EidPrefix.TryParse(range.Prefix, out var prefix)) continue;
            foreach (var name in range.Sites)
            {
                if (!siteIndex.TryGetValue(name, out var si)) continue; // Mobility's own validation names unknown sites.
                var site = ms.Sites[si];
                // A site that is not the range's home registers the moved hosts' /32s: its prefix must accept more-specifics.
                var home = string.Equals(name, range.HomeSite, StringComparison.OrdinalIgnoreCase);
                if (site.EidPrefixes.Any(e => Covers(e, prefix, moreSpecific: !home))) continue;
                errors.Add(I($"Mobility.Ranges[{i}].Prefix: {prefix} is outside site {site.Name}'s EID prefixes at the embedded Map-Server ({Prefixes(site)}); ") +
                           I($"add {{ \"Prefix\": \"{prefix}\", \"AcceptMoreSpecifics\": true }} to MapServer.Sites[{si}].EidPrefixes"));
            }
        }

        return errors;
    }

    private static bool Covers(SiteEidPrefixOptions entry, EidPrefix prefix, bool moreSpecific) =>
        EidPrefix.TryParse(entry.Prefix, out var p) && p.Contains(prefix) && (!moreSpecific || entry.AcceptMoreSpecifics);

    private static string Prefixes(SiteOptions site) => site.EidPrefixes.Count == 0
        ? "none"
        : string.Join(", ", site.EidPrefixes.Select(e => e.AcceptMoreSpecifics ? $"{e.Prefix} accept-more-specifics" : e.Prefix));

    /// <summary>
    /// Whether an xTR's Map-Server address is this file's embedded Map-Server: the same port, and an address it listens on
    /// (a wildcard listener answers on every local address, the loopback among them).
    /// </summary>
    private static bool IsEmbedded(string address, MapServerOptions ms)
    {
        if (!IPEndPoint.TryParse(address, out var peer)) return false;
        foreach (var text in ms.EffectiveListen)
        {
            if (!IPEndPoint.TryParse(text, out var listen) || listen.Port != peer.Port) continue;
            if (listen.Address.Equals(peer.Address)) return true;
            if ((listen.Address.Equals(IPAddress.Any) || listen.Address.Equals(IPAddress.IPv6Any)) && listen.AddressFamily == peer.AddressFamily) return true;
        }

        return false;
    }
}
