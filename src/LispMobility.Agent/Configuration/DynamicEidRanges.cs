using System.Globalization;
using LispMobility.Lisp.Addressing;
using LispMobility.Mobility.Configuration;
using LispMobility.Xtr.Configuration;

namespace LispMobility.Agent.Configuration;

/// <summary>
/// <c>Mobility.Ranges</c> is the one place a dynamic-EID range's name, prefix and mode are written; the xTR's
/// <c>Xtr.DynamicEids</c> are derived from the ranges its site may host, and an entry there only adds what is local to this
/// xTR (the VM-facing <c>Interface</c>, an extended subnet's map-notify group).
/// </summary>
internal static class DynamicEidRanges
{
    /// <summary>The xTR's options with their dynamic EIDs derived; every disagreement is an error saying how to migrate.</summary>
    public static XtrOptions Derive(XtrOptions xtr, MobilityOptions mobility, List<string> errors)
    {
        var derived = new List<DynamicEidOptions>();
        var used = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        for (var i = 0; i < xtr.DynamicEids.Count; i++)
        {
            var local = xtr.DynamicEids[i];
            var path = string.Create(CultureInfo.InvariantCulture, $"Xtr.DynamicEids[{i}]");
            if (string.IsNullOrWhiteSpace(local.Name)) continue; // XtrOptions.Validate says Name is required.
            var range = mobility.Ranges.FirstOrDefault(r => string.Equals(r.Name, local.Name, StringComparison.OrdinalIgnoreCase));
            if (range is null)
            {
                errors.Add($"{path}.Name: no range '{local.Name}' in Mobility.Ranges; ranges are defined there once (Name, Prefix, HomeSite, Sites, Mode) — " +
                           "add it there and keep only Name, Interface and MapNotifyGroup here");
                continue;
            }

            if (xtr.Site.Length > 0 && !range.Sites.Contains(xtr.Site, StringComparer.OrdinalIgnoreCase))
            {
                errors.Add($"{path}.Name: range '{range.Name}' may not live at this site '{xtr.Site}' (Mobility.Ranges Sites: {string.Join(", ", range.Sites)}); " +
                           "add the site to the range's Sites or remove this entry");
                continue;
            }

            // Prefix and Mode here are the old way of writing the range: accepted while they say the same as Mobility.Ranges.
            if (local.Prefix.Length > 0 && !SamePrefix(local.Prefix, range.Prefix))
            {
                errors.Add($"{path}.Prefix: '{local.Prefix}' disagrees with Mobility.Ranges '{range.Name}' ({range.Prefix}); remove Prefix here (the range's Prefix is the one source)");
            }

            if (local.Mode != range.Mode && local.Mode != default)
            {
                errors.Add($"{path}.Mode: {local.Mode} disagrees with Mobility.Ranges '{range.Name}' ({range.Mode}); remove Mode here (the range's Mode is the one source)");
            }

            used.Add(range.Name);
            derived.Add(local with { Name = range.Name, Prefix = range.Prefix, Mode = range.Mode });
        }

        foreach (var range in mobility.Ranges.Where(r => !used.Contains(r.Name) && r.Sites.Contains(xtr.Site, StringComparer.OrdinalIgnoreCase)))
        {
            derived.Add(new DynamicEidOptions { Name = range.Name, Prefix = range.Prefix, Mode = range.Mode });
        }

        return xtr with { DynamicEids = derived };
    }

    private static bool SamePrefix(string a, string b) => EidPrefix.TryParse(a, out var x) && EidPrefix.TryParse(b, out var y) ? x == y : a == b;
}
