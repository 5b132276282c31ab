namespace LispMobility.TestSupport;

/// <summary>Where the tests' <c>FakeTimeProvider</c>s start.</summary>
public static class TestClock
{
    /// <summary>
    /// 2026-01-01 UTC rather than FakeTimeProvider's default of 2000-01-01: nonces seeded from the clock must carry a
    /// plausible date, because the Map-Server treats clock-seeded nonces specially when it checks for replays.
    /// </summary>
    public static readonly DateTimeOffset Start = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);
}
