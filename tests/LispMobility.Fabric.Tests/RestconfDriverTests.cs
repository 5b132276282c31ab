using System.Net;
using System.Text.Json.Nodes;
using LispMobility.Fabric.IosXe;
using LispMobility.TestSupport.Fakes;

namespace LispMobility.Fabric.Tests;

public sealed class RestconfDriverTests : IAsyncLifetime
{
    private const string Interfaces = "/restconf/data/Cisco-IOS-XE-native:native/interface";
    private readonly FakeRestconfDevice _device = new();
    private readonly TestDevices _devices = new();

    public Task InitializeAsync() => _device.StartAsync();

    public async Task DisposeAsync()
    {
        await _device.DisposeAsync();
        _devices.Dispose();
    }

    [Fact]
    public async Task Plan_for_an_absent_svi_is_the_exact_patch_body()
    {
        using var driver = new RestconfDriver(_devices.Restconf(_device));

        var plan = await driver.PlanAsync(TestDevices.Intent(), default);

        var change = Assert.Single(plan.Changes);
        Assert.Equal($"PATCH {Interfaces}", change.Target);
        Assert.Equal("Vlan120 does not exist", change.Description);
        Assert.Equal(
            """{"Cisco-IOS-XE-native:interface":{"Vlan":[{"name":120,"ip":{"proxy-arp":true},"standby":{"version":2,"standby-list":[{"group-number":120,"ip":{"address":"10.20.0.1"},"mac-address":"0000.0c9f.f078","priority":110}]}}]}}""",
            change.Payload);
        var read = Assert.Single(_device.Requests);
        Assert.Equal(("GET", $"{Interfaces}/Vlan=120", "application/yang-data+json"), (read.Method, read.Path, read.Accept));
    }

    [Fact]
    public async Task Apply_patches_with_yang_json_then_verify_converges_and_a_second_plan_is_empty()
    {
        using var driver = new RestconfDriver(_devices.Restconf(_device));
        var intent = TestDevices.Intent();
        var plan = await driver.PlanAsync(intent, default);

        await driver.ApplyAsync(plan, default);

        var patch = _device.Requests[^1];
        Assert.Equal(("PATCH", Interfaces, "application/yang-data+json"), (patch.Method, patch.Path, patch.ContentType));
        Assert.Equal(plan.Changes[0].Payload, patch.Body);
        var group = _device.Vlans[120]["standby"]!["standby-list"]![0]!;
        Assert.Equal("0000.0c9f.f078", group["mac-address"]!.GetValue<string>());
        var verification = await driver.VerifyAsync(intent, default);
        Assert.True(verification.Converged, string.Join("; ", verification.Differences));
        Assert.True((await driver.PlanAsync(intent, default)).IsEmpty);
    }

    [Fact]
    public async Task Drift_in_an_existing_entry_is_listed_leaf_by_leaf()
    {
        _device.Vlans[120] = JsonNode.Parse("""
            {"name":120,"ip":{"proxy-arp":false},"standby":{"version":2,"standby-list":[
              {"group-number":120,"ip":{"address":"10.20.0.9"},"mac-address":"0000.0c9f.f078","priority":100}]}}
            """)!.AsObject();
        using var driver = new RestconfDriver(_devices.Restconf(_device));

        var verification = await driver.VerifyAsync(TestDevices.Intent(), default);

        Assert.Equal(
        [
            "Vlan120: ip proxy-arp is off, want on",
            "Vlan120: standby 120 ip is 10.20.0.9, want 10.20.0.1",
            "Vlan120: standby 120 priority is 100, want 110",
        ], verification.Differences);
        await driver.ApplyAsync(await driver.PlanAsync(TestDevices.Intent(), default), default);
        Assert.True((await driver.VerifyAsync(TestDevices.Intent(), default)).Converged);
    }

    [Fact]
    public async Task A_refusal_carries_the_rfc8040_error_tag_message_and_path()
    {
        _device.UnknownLeaves.Add("mac-address");
        using var driver = new RestconfDriver(_devices.Restconf(_device));
        var plan = await driver.PlanAsync(TestDevices.Intent(), default);
        var before = _device.Requests.Count;

        var e = await Assert.ThrowsAsync<GatewayException>(() => driver.ApplyAsync(plan, default));

        Assert.Equal("malformed-message: unknown element: mac-address (at /Cisco-IOS-XE-native:native/interface/Vlan=120/standby/standby-list/mac-address)", e.DeviceMessage);
        Assert.False(e.IsTransient);
        Assert.Equal(before + 1, _device.Requests.Count);
        Assert.Empty(_device.Vlans);
    }

    [Fact]
    public async Task Wrong_credentials_give_the_access_denied_error_once()
    {
        using var driver = new RestconfDriver(_devices.Restconf(_device, password: "nope"));

        var e = await Assert.ThrowsAsync<GatewayException>(() => driver.PlanAsync(TestDevices.Intent(), default));

        Assert.Equal("authentication refused (HTTP 401) for the configured credentials: access-denied: access denied", e.DeviceMessage);
        Assert.Single(_device.Requests);
    }

    [Fact]
    public async Task Gateway_timeouts_are_retried()
    {
        _device.FailNext(1, HttpStatusCode.GatewayTimeout);
        using var driver = new RestconfDriver(_devices.Restconf(_device));

        Assert.False((await driver.PlanAsync(TestDevices.Intent(), default)).IsEmpty);
        Assert.Equal(2, _device.Requests.Count);
    }

    [Fact]
    public async Task Tls_is_verified_by_default()
    {
        using var driver = new RestconfDriver(_devices.Restconf(_device, pin: false));

        var e = await Assert.ThrowsAsync<GatewayException>(() => driver.VerifyAsync(TestDevices.Intent(), default));

        Assert.StartsWith("TLS:", e.DeviceMessage, StringComparison.Ordinal);
        Assert.Empty(_device.Requests);
    }

    [Fact]
    public async Task A_priority_left_to_the_device_is_not_sent()
    {
        using var driver = new RestconfDriver(_devices.Restconf(_device));

        var plan = await driver.PlanAsync(TestDevices.Intent(priority: null), default);

        Assert.DoesNotContain("priority", plan.Changes[0].Payload, StringComparison.Ordinal);
    }
}
