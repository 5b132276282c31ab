using LispMobility.Lisp.Addressing;
using LispMobility.MappingSystem.Configuration;
using LispMobility.MappingSystem.Registrations;

namespace LispMobility.MappingSystem.Tests;

/// <summary>The registration table matches longest prefixes alike in its compact IPv4 part and in the general one.</summary>
public sealed class RegistrationTableTests
{
    private static readonly Site Site = new(new SiteOptions { Name = "dc1" });

    private static RegisteredEid Add(RegistrationTable table, string prefix)
    {
        var entry = new RegisteredEid(EidPrefix.Parse(prefix), Site);
        table.Add(entry);
        return entry;
    }

    private static string? Match(RegistrationTable table, string address, int maxMaskLength = int.MaxValue) =>
        table.Lookup(LispAddress.Parse(address), maxMaskLength)?.Prefix.ToString();

    [Theory]
    [InlineData("10.0.0.0/8", "10.1.0.0/16", "10.1.2.3/32", "10.1.2.3", "10.1.2.4", "10.9.9.9", "11.0.0.1")]
    [InlineData("[1000]10.0.0.0/8", "[1000]10.1.0.0/16", "[1000]10.1.2.3/32", "[1000]10.1.2.3", "[1000]10.1.2.4", "[1000]10.9.9.9", "[1000]11.0.0.1")]
    [InlineData("2001:db8::/32", "2001:db8:1::/48", "2001:db8:1::5/128", "2001:db8:1::5", "2001:db8:1::6", "2001:db8:9::1", "2001:db9::1")]
    public void Longest_prefix_wins_up_to_the_mask_limit_and_after_removal(
        string aggregate, string middle, string host, string hostAddress, string middleAddress, string aggregateAddress, string outside)
    {
        var table = new RegistrationTable();
        Add(table, aggregate);
        var m = Add(table, middle);
        var h = Add(table, host);

        Assert.Equal(3, table.Count);
        Assert.Equal(host, Match(table, hostAddress));
        Assert.Equal(middle, Match(table, middleAddress));
        Assert.Equal(aggregate, Match(table, aggregateAddress));
        Assert.Null(Match(table, outside));
        Assert.Equal(middle, Match(table, hostAddress, h.Prefix.MaskLength - 1));
        Assert.True(table.TryGet(EidPrefix.Parse(middle), out var found) && ReferenceEquals(found, m));

        table.Remove(h);
        Assert.Equal(middle, Match(table, hostAddress));
        table.Remove(m);
        Assert.Equal(aggregate, Match(table, hostAddress));
        Assert.Equal(1, table.Count);
        Assert.Equal([aggregate], table.All.Select(e => e.Prefix.ToString()));
    }

    [Fact]
    public void Instances_and_families_do_not_match_each_other()
    {
        var table = new RegistrationTable();
        Add(table, "10.1.0.0/16");
        Add(table, "[7]10.1.0.0/16");
        Add(table, "::/0");

        Assert.Equal("10.1.0.0/16", Match(table, "10.1.0.1"));
        Assert.Equal("[7]10.1.0.0/16", Match(table, "[7]10.1.0.1"));
        Assert.Null(Match(table, "[8]10.1.0.1"));
        Assert.Equal("::/0", Match(table, "2001:db8::1"));
        Assert.False(table.TryGet(EidPrefix.Parse("[8]10.1.0.0/16"), out _));
    }
}
