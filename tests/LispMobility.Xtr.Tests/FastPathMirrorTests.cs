using System.Runtime.Versioning;
using LispMobility.Lisp.Addressing;
using LispMobility.Lisp.Records;
using LispMobility.Xtr.DataPlane;

namespace LispMobility.Xtr.Tests;

/// <summary>What the fast path's maps are given: locators spread over the flow buckets, and the ETR's view as a prefix table.</summary>
[SupportedOSPlatform("linux")]
public sealed class FastPathMirrorTests
{
    private static Locator L(string address, byte weight) => new(LispAddress.Parse(address), 1, weight);

    [Fact]
    public void Locators_are_spread_over_the_16_buckets_in_proportion_to_their_weights()
    {
        static Dictionary<string, int> Shares(params Locator[] locators) =>
            FastPathMirror.Spread(locators).GroupBy(a => a.ToString()).ToDictionary(g => g.Key, g => g.Count());

        Assert.Equal(new Dictionary<string, int> { ["192.0.2.1"] = 16 }, Shares(L("192.0.2.1", 100)));
        Assert.Equal(new Dictionary<string, int> { ["192.0.2.1"] = 8, ["192.0.2.2"] = 8 }, Shares(L("192.0.2.1", 50), L("192.0.2.2", 50)));
        Assert.Equal(new Dictionary<string, int> { ["192.0.2.1"] = 4, ["192.0.2.2"] = 4, ["192.0.2.3"] = 8 }, Shares(L("192.0.2.1", 25), L("192.0.2.2", 25), L("192.0.2.3", 50)));
        // A weight of 0 beside positive ones gets no flow; all weights 0 split evenly (RFC 9301 §5.4 leaves it to the ITR).
        Assert.Equal(new Dictionary<string, int> { ["192.0.2.2"] = 16 }, Shares(L("192.0.2.1", 0), L("192.0.2.2", 10)));
        Assert.Equal(new Dictionary<string, int> { ["192.0.2.1"] = 8, ["192.0.2.2"] = 8 }, Shares(L("192.0.2.1", 0), L("192.0.2.2", 0)));
        // Every bucket is filled, whatever the weights.
        Assert.All(FastPathMirror.Spread([L("192.0.2.1", 1), L("192.0.2.2", 254)]), a => Assert.NotNull(a));
    }

    [Fact]
    public void The_etr_table_answers_every_address_as_the_view_does_by_longest_prefix_match()
    {
        // Nested on purpose: a dynamic range inside a site prefix (local), one around a site prefix (unlisted outside it),
        // hosts here and away inside both, and IPv6.
        var view = new LocalEids(
            [EidPrefix.Parse("10.1.0.0/16"), EidPrefix.Parse("172.16.4.0/26"), EidPrefix.Parse("2001:db8:1::/48")],
            [LispAddress.Parse("172.16.4.200"), LispAddress.Parse("2001:db8:4::10")],
            [LispAddress.Parse("172.16.4.10"), LispAddress.Parse("10.1.2.3")],
            [EidPrefix.Parse("10.1.2.0/24"), EidPrefix.Parse("172.16.4.0/24"), EidPrefix.Parse("2001:db8:4::/64")]);
        var table = view.Table().ToList();
        string[] probes =
        [
            "10.1.2.3", "10.1.2.4", "10.1.9.9", "10.2.0.1", "172.16.4.10", "172.16.4.11", "172.16.4.63", "172.16.4.64", "172.16.4.200",
            "172.16.4.201", "172.16.5.1", "2001:db8:4::10", "2001:db8:4::11", "2001:db8:1::1", "2001:db8:5::1",
        ];
        foreach (var text in probes)
        {
            var address = LispAddress.Parse(text);
            var bits = IpPacket.Bits(address);
            var match = table.Where(e => Covers(e.Prefix, address)).OrderByDescending(e => e.Prefix.MaskLength).Select(e => (LocalEidState?)e.State).FirstOrDefault();
            var expected = view.StateOf(address.Kind, bits);
            Assert.True((match ?? LocalEidState.NotOurs) == expected, $"{text}: table {match?.ToString() ?? "no entry"}, view {expected}");
        }
    }

    private static bool Covers(EidPrefix prefix, LispAddress address)
    {
        if (prefix.Address.Kind != address.Kind) return false;
        var bytes = prefix.Address.ToIPAddress().GetAddressBytes();
        var other = address.ToIPAddress().GetAddressBytes();
        for (var bit = 0; bit < prefix.MaskLength; bit++)
        {
            var mask = 0x80 >> (bit % 8);
            if ((bytes[bit / 8] & mask) != (other[bit / 8] & mask)) return false;
        }

        return true;
    }
}
