using LispMobility.Agent.Cli;

namespace LispMobility.Agent.Tests.Cli;

/// <summary>`lispmobility moves` filters: a bad EID or time is an error saying what to write, never an empty table.</summary>
public sealed class MovesQueryTests
{
    private static readonly DateTimeOffset Now = new(2026, 12, 4, 12, 0, 0, TimeSpan.Zero);

    [Fact]
    public void An_eid_that_is_not_an_address_is_refused_with_an_example()
    {
        Assert.Null(MovesQuery.Path("banana", null, null, null, null, Now, out var error));
        Assert.Equal("--eid: 'banana' is not an IP address (e.g. 172.16.4.10 or 2001:db8::10)", error);
    }

    [Theory]
    [InlineData("yesterday")]
    [InlineData("2h ago")]
    [InlineData("")]
    public void A_since_that_is_not_a_time_is_refused_with_what_to_write(string since)
    {
        Assert.Null(MovesQuery.Path(null, null, null, since, null, Now, out var error));
        Assert.StartsWith($"--since: '{since}' is not a time: give an age such as 30m", error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("45s", "2026-12-04T11:59:15.0000000+00:00")]
    [InlineData("30m", "2026-12-04T11:30:00.0000000+00:00")]
    [InlineData("2h", "2026-12-04T10:00:00.0000000+00:00")]
    [InlineData("7d", "2026-11-27T12:00:00.0000000+00:00")]
    [InlineData("2026-12-04T09:00Z", "2026-12-04T09:00:00.0000000+00:00")]
    [InlineData("2026-12-04 09:00", "2026-12-04T09:00:00.0000000+00:00")]
    public void Since_takes_an_age_or_an_iso_time(string since, string expected) =>
        Assert.Equal(DateTimeOffset.Parse(expected, System.Globalization.CultureInfo.InvariantCulture), MovesQuery.ParseSince(since, Now));

    [Fact]
    public void The_query_asks_for_the_newest_rows_first_with_the_default_or_given_limit()
    {
        Assert.Equal("/api/moves?newest=true&limit=50", MovesQuery.Path(null, null, null, null, null, Now, out _));
        Assert.Equal("/api/moves?newest=true&limit=5&eid=2001%3Adb8%3A%3A10&site=dc2&since=2026-12-04T10%3A00%3A00.0000000%2B00%3A00",
            MovesQuery.Path("2001:db8::10", null, "dc2", "2h", 5, Now, out _));
        Assert.Null(MovesQuery.Path(null, null, null, null, 0, Now, out var error));
        Assert.Equal("--limit: 0 must be 1 or more", error);
    }
}
