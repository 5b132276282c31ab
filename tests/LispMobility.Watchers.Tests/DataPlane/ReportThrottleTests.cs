using System.Net;
using System.Net.NetworkInformation;
using LispMobility.TestSupport;
using LispMobility.Watchers.DataPlane;
using Microsoft.Extensions.Time.Testing;

namespace LispMobility.Watchers.Tests.DataPlane;

public sealed class ReportThrottleTests
{
    private static readonly PhysicalAddress Mac = PhysicalAddress.Parse("02-00-00-00-00-01");
    private static readonly IPAddress Ip = IPAddress.Parse("10.0.0.1");

    [Fact]
    public void Announcement_is_reported_again_only_after_the_window()
    {
        var time = new FakeTimeProvider(TestClock.Start);
        var throttle = new ReportThrottle(16, TimeSpan.FromSeconds(2), 100, 10, time);
        Assert.Equal(ThrottleVerdict.Report, throttle.Admit(Mac, Ip, announcement: true));
        time.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal(ThrottleVerdict.Duplicate, throttle.Admit(Mac, Ip, announcement: true));
        time.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal(ThrottleVerdict.Report, throttle.Admit(Mac, Ip, announcement: true));
    }

    [Fact]
    public void Plain_traffic_from_a_known_host_is_never_reported_again()
    {
        var time = new FakeTimeProvider(TestClock.Start);
        var throttle = new ReportThrottle(16, TimeSpan.FromSeconds(2), 100, 10, time);
        Assert.Equal(ThrottleVerdict.Report, throttle.Admit(Mac, Ip, announcement: false));
        for (var i = 0; i < 10; i++)
        {
            time.Advance(TimeSpan.FromSeconds(1));
            Assert.Equal(ThrottleVerdict.Known, throttle.Admit(Mac, Ip, announcement: false));
        }
    }

    [Fact]
    public void Table_never_exceeds_its_capacity_and_reports_follow_the_token_bucket()
    {
        var time = new FakeTimeProvider(TestClock.Start);
        var throttle = new ReportThrottle(64, TimeSpan.FromSeconds(2), reportsPerSecond: 10, burst: 20, time);
        var verdicts = new List<ThrottleVerdict>();
        for (var i = 0; i < 1000; i++)
        {
            verdicts.Add(throttle.Admit(new PhysicalAddress([2, 0, 0, 0, (byte)(i >> 8), (byte)i]), new IPAddress(0x0a000000 + i), true));
            Assert.True(throttle.Count <= 64);
            time.Advance(TimeSpan.FromMilliseconds(10)); // 10 s in all: 20 burst + ~100 refilled
        }
        var reported = verdicts.Count(v => v == ThrottleVerdict.Report);
        Assert.InRange(reported, 100, 121);
        Assert.Contains(ThrottleVerdict.RateLimited, verdicts);
    }
}
