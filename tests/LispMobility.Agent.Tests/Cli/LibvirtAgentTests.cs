using System.Net.Http.Json;
using System.Text.Json;
using LispMobility.TestSupport.Libvirt;

namespace LispMobility.Agent.Tests.Cli;

/// <summary>
/// `lispmobility run` at site dc2 with the libvirt watcher on libvirt's test driver (in process, no daemon): a domain whose
/// address lies in a dynamic-EID range homed at dc1 starts on a KVM host of dc2, and the agent detects and runs the move.
/// </summary>
public sealed class LibvirtAgentTests : IAsyncLifetime
{
    private const int ApiPort = 4395;
    private InProcessAgent? _agent;

    public async Task InitializeAsync()
    {
        // The test driver's "default" network is 192.168.122.0/24: that is the dynamic-EID range here, homed at dc1.
        _agent = await InProcessAgent.StartAsync("libvirt-agent", p => $$"""
        {
          "MapServer": { "Listen": ["127.91.5.100:4342"], "Sites": [
            { "Name": "dc1", "EidPrefixes": [ { "Prefix": "192.168.122.0/24", "AcceptMoreSpecifics": true } ], "Keys": [ { "KeyId": 1, "Key": "k1" } ] },
            { "Name": "dc2", "EidPrefixes": [ { "Prefix": "192.168.122.0/24", "AcceptMoreSpecifics": true } ], "Keys": [ { "KeyId": 1, "Key": "k2" } ] } ] },
          "Xtr": { "Site": "dc2", "Listen": ["127.91.5.2:4342"], "Rlocs": [ { "Address": "127.91.5.2" } ],
            "MapServers": [ { "Address": "127.91.5.100:4342", "KeyId": 1, "Key": "k2" } ], "MapResolvers": ["127.91.5.100:4342"],
            "DynamicEids": [ { "Name": "vm-kvm", "Prefix": "192.168.122.0/24" } ] },
          "Mobility": { "Database": "{{p.Database}}",
            "Ranges": [ { "Name": "vm-kvm", "Prefix": "192.168.122.0/24", "HomeSite": "dc1", "Sites": ["dc1", "dc2"] } ] },
          "Watchers": {
            "Sites": { "HostsToSites": { "kvm-dc2-01": "dc2" } },
            "Libvirt": { "Connections": [ { "Uri": "test:///default", "Host": "kvm-dc2-01" } ], "AddressRetryInterval": "00:00:00.200" } },
          "Agent": { "RouteTable": "memory" },
          "ManagementApi": { "BindAddress": "127.0.0.1", "Port": {{ApiPort}}, "TokenFile": "{{p.TokenFile}}" },
          "Log": { "File": false, "Console": false, "Journald": "false" }
        }
        """);
    }

    [Fact]
    public async Task A_domain_in_a_dynamic_eid_range_started_on_a_kvm_host_of_another_site_is_moved_there()
    {
        // The watcher connects after /healthz answers: a domain started before its inventory would be found as already
        // running (a "discovery"), not seen starting. The test driver's own domain "test" is moved at that inventory.
        Assert.True(await MoveOfAsync("test", trigger: "discovery") is { ValueKind: JsonValueKind.Object }, "the watcher never took its inventory");
        using var driver = new LibvirtTestDriver();
        using var vm = driver.Define("web-kvm-01", "52:54:00:12:34:56");
        vm.Start();

        var row = await MoveOfAsync("web-kvm-01", trigger: "power-on");

        Assert.True(row.ValueKind == JsonValueKind.Object, "no converged power-on move of web-kvm-01 in the audit history");
        Assert.Equal("libvirt", row.GetProperty("source").GetString());
        Assert.Equal("dc1", row.GetProperty("fromSite").GetString());
        Assert.Equal("dc2", row.GetProperty("toSite").GetString());
        Assert.StartsWith("192.168.122.", row.GetProperty("eid").GetString(), StringComparison.Ordinal);

        var registrations = await _agent!.Api.GetStringAsync(new Uri("/api/registrations", UriKind.Relative));
        Assert.Contains(row.GetProperty("eid").GetString() + "/32", registrations, StringComparison.Ordinal);
        vm.Destroy();
        vm.Undefine();
    }

    // The first audit row of a move of <vm> with <trigger> (any outcome for the inventory, converged for a power-on), within 20 s.
    private async Task<JsonElement> MoveOfAsync(string vm, string trigger)
    {
        for (var i = 0; i < 200; i++)
        {
            var moves = await _agent!.Api.GetFromJsonAsync<JsonElement>(new Uri($"/api/moves?vm={vm}", UriKind.Relative));
            var row = moves.EnumerateArray().FirstOrDefault(r => r.GetProperty("trigger").GetString() == trigger
                && r.GetProperty("kind").GetString() == "move" && (trigger != "power-on" || r.GetProperty("outcome").GetString() == "converged"));
            if (row.ValueKind == JsonValueKind.Object) return row;
            await Task.Delay(100);
        }

        return default;
    }

    public async Task DisposeAsync()
    {
        if (_agent is not null) await _agent.DisposeAsync();
    }
}
