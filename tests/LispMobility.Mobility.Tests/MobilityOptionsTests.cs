using LispMobility.Fabric;
using LispMobility.Mobility.Configuration;

namespace LispMobility.Mobility.Tests;

/// <summary>Configuration validation: every problem at once, each naming its path.</summary>
public sealed class MobilityOptionsTests
{
    private static readonly string[] Sites = ["dc1", "dc2"];

    private static DynamicEidRangeOptions Range(string name = "vm", string prefix = "172.16.4.0/24") => new()
    {
        Name = name, Prefix = prefix, HomeSite = "dc1", Sites = ["dc1", "dc2"],
        Gateway = new GatewayOptions { Vlan = 104, Interface = "Vlan104", VirtualIp = "172.16.4.1", FhrpVersion = 2, Group = 10 },
    };

    [Fact]
    public void A_valid_configuration_has_no_errors() =>
        Assert.Empty(new MobilityOptions { Ranges = [Range(), Range("db", "172.16.5.0/24") with { Gateway = null }] }.Validate(Sites));

    [Fact]
    public void Every_problem_is_reported_at_once_with_its_path()
    {
        var options = new MobilityOptions
        {
            Database = " ",
            MaxParallelMoves = 0,
            StepAttempts = 0,
            HoldDown = TimeSpan.FromSeconds(-1),
            Ranges =
            [
                Range(),
                Range("VM", "172.16.4.128/25"),
                Range("bad", "172.16.x.0/24") with { Sites = [], HomeSite = "" },
                Range("far", "10.9.0.0/16") with
                {
                    Sites = ["dc1", "dc9"],
                    Gateway = new GatewayOptions { VirtualIp = "172.16.4.1", Fhrp = FhrpKind.Hsrp, FhrpVersion = 1, Group = 300 },
                },
                Range("novip", "10.8.0.0/16") with { Gateway = new GatewayOptions { VirtualIp = "gateway" } },
            ],
        };

        var errors = options.Validate(Sites);

        Assert.Equal(
        [
            "Mobility.Database: required (path of the SQLite file)",
            "Mobility.MaxParallelMoves: 0 must be at least 1",
            "Mobility.StepAttempts: must be at least 1",
            "Mobility.HoldDown: must not be negative",
            "Mobility.Ranges[1].Name: 'VM' is configured twice",
            "Mobility.Ranges[1].Prefix: 172.16.4.128/25 overlaps range 'vm' (172.16.4.0/24)",
            "Mobility.Ranges[1].Gateway.VirtualIp: 172.16.4.1 is outside the range 172.16.4.128/25",
            "Mobility.Ranges[2].Prefix: '172.16.x.0/24' is not a prefix such as 172.16.4.0/24",
            "Mobility.Ranges[2].Sites: list the sites allowed to host this range",
            "Mobility.Ranges[2].HomeSite: '' must be one of the range's sites",
            "Mobility.Ranges[3].Sites: 'dc9' is not a configured site (dc1, dc2)",
            "Mobility.Ranges[3].Gateway.VirtualIp: 172.16.4.1 is outside the range 10.9.0.0/16",
            "Mobility.Ranges[3].Gateway: " + VirtualMac.Validate(FhrpKind.Hsrp, 1, 300),
            "Mobility.Ranges[4].Gateway.VirtualIp: 'gateway' is not an IP address",
        ], errors);
    }

    [Fact]
    public void The_reconciliation_interval_and_the_retry_back_off_are_checked()
    {
        var errors = new MobilityOptions { ReconcileInterval = TimeSpan.FromMilliseconds(100), RetryBackoff = TimeSpan.FromMinutes(5), RetryBackoffMax = TimeSpan.FromMinutes(1) }.Validate(Sites);

        Assert.Equal(
        [
            "Mobility.RetryBackoff/RetryBackoffMax: the first must be positive and not above the max",
            "Mobility.ReconcileInterval: 00:00:00.1000000 must be between 1 second and 1 day (e.g. 00:01:00)",
        ], errors);
        Assert.Equal(TimeSpan.FromSeconds(60), new MobilityOptions().ReconcileInterval);
    }

    [Fact]
    public void The_path_given_by_the_caller_prefixes_every_message() =>
        Assert.Equal(["Agent:Mobility.StepAttempts: must be at least 1"], new MobilityOptions { StepAttempts = 0 }.Validate(Sites, "Agent:Mobility"));
}
