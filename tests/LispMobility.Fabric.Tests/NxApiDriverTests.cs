using System.Net;
using LispMobility.Fabric.NxOs;
using LispMobility.TestSupport.Fakes;
using Microsoft.Extensions.Logging.Testing;

namespace LispMobility.Fabric.Tests;

public sealed class NxApiDriverTests : IAsyncLifetime
{
    private readonly FakeNxApiSwitch _switch = new();
    private readonly TestDevices _devices = new();

    public Task InitializeAsync() => _switch.StartAsync();

    public async Task DisposeAsync()
    {
        await _switch.DisposeAsync();
        _devices.Dispose();
    }

    private static string Rpc(params string[] commands) =>
        "[" + string.Join(",", commands.Select((c, i) =>
            $$"""{"jsonrpc":"2.0","method":"cli","params":{"cmd":"{{c}}","version":1},"id":{{i + 1}}}""")) + "]";

    [Fact]
    public async Task Plan_on_a_fresh_switch_is_the_exact_json_rpc_request()
    {
        using var driver = new NxApiDriver(_devices.NxApi(_switch));

        var plan = await driver.PlanAsync(TestDevices.Intent(), default);

        Assert.Equal(("nxapi", "leaf1"), (plan.Driver, plan.Device));
        var change = Assert.Single(plan.Changes);
        Assert.Equal("POST /ins", change.Target);
        Assert.Equal(Rpc("feature interface-vlan", "feature hsrp", "interface vlan 120", "no shutdown", "ip proxy-arp",
            "hsrp version 2", "hsrp 120", "ip 10.20.0.1", "mac-address 0000.0c9f.f078", "priority 110"), change.Payload);
        Assert.Contains("interface vlan 120 does not exist", change.Description, StringComparison.Ordinal);

        var read = Assert.Single(_switch.Requests);
        Assert.Equal(("POST", "/ins", "application/json-rpc"), (read.Method, read.Path, read.ContentType));
        Assert.Equal("""[{"jsonrpc":"2.0","method":"cli_ascii","params":{"cmd":"show running-config | include ^feature","version":1},"id":1},{"jsonrpc":"2.0","method":"cli_ascii","params":{"cmd":"show running-config interface vlan 120","version":1},"id":2}]""", read.Body);
        Assert.Empty(_switch.Svis); // planning changes nothing
        Assert.Equal($"nxapi leaf1: 1 change(s)\n  POST /ins  # {change.Description}\n    {change.Payload}\n", plan.ToDryRun().ReplaceLineEndings("\n"));
    }

    [Fact]
    public async Task Apply_sends_the_plan_verbatim_then_verify_converges_and_a_second_plan_is_empty()
    {
        using var driver = new NxApiDriver(_devices.NxApi(_switch));
        var intent = TestDevices.Intent();
        var plan = await driver.PlanAsync(intent, default);

        await driver.ApplyAsync(plan, default);

        Assert.Equal(plan.Changes[0].Payload, _switch.Requests[^1].Body);
        var svi = _switch.Svis[120];
        Assert.True(svi.NoShutdown && svi.ProxyArp);
        Assert.Equal(2, svi.HsrpVersion);
        var group = svi.Groups[120];
        Assert.Equal(("10.20.0.1", "0000.0c9f.f078", (int?)110), (group.Ip, group.MacAddress, group.Priority));
        var verification = await driver.VerifyAsync(intent, default);
        Assert.True(verification.Converged, string.Join("; ", verification.Differences));
        Assert.True((await driver.PlanAsync(intent, default)).IsEmpty);
    }

    [Fact]
    public async Task Drift_is_reported_precisely_and_only_the_missing_lines_are_planned()
    {
        _switch.Features.UnionWith(["interface-vlan", "hsrp"]);
        var svi = _switch.Svis[120] = new FakeSvi { NoShutdown = true, ProxyArp = false, HsrpVersion = 2 };
        svi.Groups[120] = new FakeHsrpGroup { Ip = "10.20.0.1", MacAddress = "0000.0c07.ac78", Priority = 110 };
        using var driver = new NxApiDriver(_devices.NxApi(_switch));
        var intent = TestDevices.Intent();

        var verification = await driver.VerifyAsync(intent, default);

        Assert.False(verification.Converged);
        Assert.Equal(
        [
            "interface vlan 120: ip proxy-arp is off, want on",
            "interface vlan 120: hsrp 120 mac-address is 0000.0c07.ac78, want 0000.0c9f.f078",
        ], verification.Differences);
        var plan = await driver.PlanAsync(intent, default);
        Assert.Equal(Rpc("interface vlan 120", "ip proxy-arp", "hsrp 120", "mac-address 0000.0c9f.f078"), Assert.Single(plan.Changes).Payload);
        await driver.ApplyAsync(plan, default);
        Assert.True((await driver.VerifyAsync(intent, default)).Converged);
    }

    [Fact]
    public async Task A_refused_command_surfaces_the_switch_message_and_is_not_retried()
    {
        _switch.RefusedLines["mac-address 0000.0c9f.f078"] = "% Invalid command at '^' marker.\n";
        using var driver = new NxApiDriver(_devices.NxApi(_switch));
        var plan = await driver.PlanAsync(TestDevices.Intent(), default);
        var before = _switch.Requests.Count;

        var e = await Assert.ThrowsAsync<GatewayException>(() => driver.ApplyAsync(plan, default));

        Assert.Equal("Invalid params: % Invalid command at '^' marker.", e.DeviceMessage);
        Assert.Equal("leaf1", e.Device);
        Assert.False(e.IsTransient);
        Assert.Equal(before + 1, _switch.Requests.Count);
    }

    [Fact]
    public async Task Transient_503s_are_retried_and_the_plan_still_comes_back()
    {
        _switch.FailNext(2, HttpStatusCode.ServiceUnavailable);
        using var driver = new NxApiDriver(_devices.NxApi(_switch));

        var plan = await driver.PlanAsync(TestDevices.Intent(), default);

        Assert.False(plan.IsEmpty);
        Assert.Equal(3, _switch.Requests.Count);
    }

    [Fact]
    public async Task A_switch_that_does_not_answer_times_out_as_transient_after_the_retries()
    {
        _switch.StallNext(2, TimeSpan.FromSeconds(10));
        var logger = new FakeLogger<NxApiDriver>();
        using var driver = new NxApiDriver(_devices.NxApi(_switch) with { RequestTimeout = TimeSpan.FromSeconds(1), MaxRetryAttempts = 1 }, logger: logger);

        var e = await Assert.ThrowsAsync<GatewayException>(() => driver.PlanAsync(TestDevices.Intent(), default));

        Assert.True(e.IsTransient);
        Assert.Equal("no answer within 1 s", e.DeviceMessage);
        // The retry is counted from the driver's side: on a loaded machine the second TLS handshake may not reach the fake in time.
        Assert.Single(logger.Collector.GetSnapshot(), l => l.Id.Id == 6002);
        Assert.NotEmpty(_switch.Requests);
    }

    [Fact]
    public async Task Wrong_credentials_fail_once_without_retry_and_without_the_password_in_the_message()
    {
        using var driver = new NxApiDriver(_devices.NxApi(_switch, password: "wrong-password-123"));

        var e = await Assert.ThrowsAsync<GatewayException>(() => driver.PlanAsync(TestDevices.Intent(), default));

        Assert.StartsWith("authentication refused (HTTP 401)", e.DeviceMessage, StringComparison.Ordinal);
        Assert.DoesNotContain("wrong-password-123", e.ToString(), StringComparison.Ordinal);
        Assert.Single(_switch.Requests);
    }

    [Fact]
    public async Task Tls_is_verified_by_default_so_a_self_signed_switch_is_refused()
    {
        using var driver = new NxApiDriver(_devices.NxApi(_switch, pin: false));

        var e = await Assert.ThrowsAsync<GatewayException>(() => driver.PlanAsync(TestDevices.Intent(), default));

        Assert.StartsWith("TLS: the device certificate was not accepted", e.DeviceMessage, StringComparison.Ordinal);
        Assert.False(e.IsTransient);
        Assert.Empty(_switch.Requests);
    }

    [Fact]
    public async Task A_pin_for_another_certificate_is_refused()
    {
        using var other = SelfSignedCertificate.Create("CN=other");
        using var driver = new NxApiDriver(_devices.NxApi(_switch) with { PinnedCertificateSha256 = Http.DeviceTls.Sha256Of(other) });

        var e = await Assert.ThrowsAsync<GatewayException>(() => driver.PlanAsync(TestDevices.Intent(), default));

        Assert.StartsWith("TLS:", e.DeviceMessage, StringComparison.Ordinal);
        Assert.Empty(_switch.Requests);
    }

    [Fact]
    public async Task A_world_readable_secret_file_stops_the_driver_before_any_request()
    {
        var options = _devices.NxApi(_switch) with
        {
            Credentials = new Credentials.CredentialSource
            {
                SecretFile = _devices.SecretFile(_switch.Username, _switch.Password, UnixFileMode.UserRead | UnixFileMode.OtherRead),
            },
        };
        using var driver = new NxApiDriver(options);

        var e = await Assert.ThrowsAsync<GatewayException>(() => driver.PlanAsync(TestDevices.Intent(), default));

        Assert.Contains("Fabric:NxApi.Credentials.SecretFile", e.DeviceMessage, StringComparison.Ordinal);
        Assert.Empty(_switch.Requests);
    }

    [Fact]
    public async Task Vrrp_and_IPv6_intents_are_refused_with_a_reason()
    {
        using var driver = new NxApiDriver(_devices.NxApi(_switch));
        var vrrp = TestDevices.Intent() with { Fhrp = FhrpKind.Vrrp, FhrpVersion = 3, Group = 12, VirtualMac = VirtualMac.For(FhrpKind.Vrrp, 3, 12) };

        var e = await Assert.ThrowsAsync<ArgumentException>(() => driver.PlanAsync(vrrp, default));

        Assert.StartsWith("The NX-API driver configures HSRP for IPv4 only", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_plan_for_another_device_is_not_applied()
    {
        using var driver = new NxApiDriver(_devices.NxApi(_switch));
        var foreign = new GatewayPlan("nxapi", "leaf2", [new GatewayChange("POST /ins", "x", "[]")]);

        await Assert.ThrowsAsync<ArgumentException>(() => driver.ApplyAsync(foreign, default));
        Assert.Empty(_switch.Requests);
    }

    [Fact]
    public async Task Logs_are_structured_and_never_carry_the_password()
    {
        var logger = new FakeLogger<NxApiDriver>();
        using (var good = new NxApiDriver(_devices.NxApi(_switch), logger: logger))
            await good.ApplyAsync(await good.PlanAsync(TestDevices.Intent(), default), default);
        using (var bad = new NxApiDriver(_devices.NxApi(_switch, password: "wrong-password-123"), logger: logger))
            await Assert.ThrowsAsync<GatewayException>(() => bad.PlanAsync(TestDevices.Intent(), default));

        var entries = logger.Collector.GetSnapshot();
        Assert.Contains(entries, e => e.Id.Id == 6001 && e.GetStructuredStateValue("Status") == "200");
        Assert.Contains(entries, e => e.Id.Id == 6101 && e.GetStructuredStateValue("Vlan") == "120");
        Assert.Contains(entries, e => e.Id.Id == 6102);
        Assert.Contains(entries, e => e.Id.Id == 6003 && e.Level == Microsoft.Extensions.Logging.LogLevel.Error);
        foreach (var secret in new[] { _switch.Password, "wrong-password-123", "Basic " })
        {
            Assert.DoesNotContain(entries, e => e.Message.Contains(secret, StringComparison.Ordinal)
                || (e.StructuredState ?? []).Any(f => f.Value?.Contains(secret, StringComparison.Ordinal) == true)
                || e.Exception?.ToString().Contains(secret, StringComparison.Ordinal) == true);
        }
    }
}
