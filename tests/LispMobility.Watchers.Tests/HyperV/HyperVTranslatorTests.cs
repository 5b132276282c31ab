using System.Net;
using System.Net.NetworkInformation;
using LispMobility.Watchers.HyperV;

namespace LispMobility.Watchers.Tests.HyperV;

public sealed class HyperVTranslatorTests
{
    private const string VmId = "3F2504E0-4F89-11D3-9A0C-0305E82C3301";
    private static readonly SiteMapOptions Sites = new()
    {
        HostsToSites = new Dictionary<string, string> { ["hv-paris-1"] = "paris", ["hv-lyon-1"] = "lyon", ["hv-lyon-1.corp.example"] = "lyon" },
    };
    private readonly HyperVTranslator _atParis = new(Sites, "hv-paris-1");
    private readonly HyperVTranslator _atLyon = new(Sites, "hv-lyon-1");

    private static HyperVVm Vm(CimInstance system, CimInstance? relationship = null, CimInstance? settings = null, bool guest = true, bool kvp = false) =>
        HyperVVm.From(system, relationship, settings, [MmiShapes.SyntheticAdapter(VmId, "00155D0A0B01")],
            guest ? [MmiShapes.GuestNetwork(VmId, "10.1.0.10", "fe80::215:5dff:fe0a:b01", "2001:db8:1::10")] : [],
            kvp ? MmiShapes.Kvp(VmId, "10.1.0.10") : null);

    [Fact]
    public void Live_migration_in_is_a_migrated_fact_with_macs_and_guest_ips_but_no_link_local()
    {
        var fact = _atLyon.Translate(null, Vm(MmiShapes.ComputerSystem(VmId, "web1", 2)), CimChangeKind.Created, 77);
        Assert.NotNull(fact);
        Assert.Equal((WorkloadChange.Migrated, "hv-lyon-1", "lyon", "hyperv", 77L), (fact.Change, fact.Host, fact.Site, fact.Source, fact.Timestamp));
        Assert.Equal((VmId, "web1"), (fact.WorkloadId, fact.Name));
        Assert.Equal([PhysicalAddress.Parse("00-15-5D-0A-0B-01")], fact.Macs);
        Assert.Equal([IPAddress.Parse("10.1.0.10"), IPAddress.Parse("2001:db8:1::10")], fact.Addresses);
    }

    [Fact]
    public void Vmms_live_migration_event_is_a_second_signal_not_a_second_fact()
    {
        var vm = Vm(MmiShapes.ComputerSystem(VmId, "web1", 2));
        Assert.Equal(WorkloadChange.Migrated, _atLyon.Translate(null, vm, CimChangeKind.LiveMigrationLogged, 1)?.Change);
        Assert.Null(_atLyon.Translate(vm, vm, CimChangeKind.LiveMigrationLogged, 2));
    }

    [Fact]
    public void Planned_failover_starts_the_replica_and_names_primary_and_replica_sites()
    {
        var settings = MmiShapes.ReplicationSettings(VmId, "hv-paris-1", "hv-lyon-1.corp.example");
        var waiting = Vm(MmiShapes.ComputerSystem(VmId, "web1", 3, replicationMode: 2, replicationState: 3), MmiShapes.ReplicationRelationship(VmId, 3), settings);
        Assert.Null(_atLyon.Translate(null, waiting, CimChangeKind.Modified, 1));
        var started = Vm(MmiShapes.ComputerSystem(VmId, "web1", 2, replicationMode: 2, failedOverReplicationType: 3, replicationState: 5),
            MmiShapes.ReplicationRelationship(VmId, 5), settings);
        var fact = _atLyon.Translate(waiting, started, CimChangeKind.Modified, 2);
        Assert.NotNull(fact);
        Assert.Equal((WorkloadChange.Failover, "lyon", "hv-paris-1", "paris"), (fact.Change, fact.Site, fact.PreviousHost, fact.PreviousSite));
        // Committing the failover afterwards (state 6) is the same placement: no second fact.
        var committed = started with { ReplicationState = 6 };
        Assert.Null(_atLyon.Translate(started, committed, CimChangeKind.Modified, 3));
    }

    [Fact]
    public void Unplanned_failover_is_seen_from_the_relationship_even_when_the_vm_was_already_running()
    {
        var settings = MmiShapes.ReplicationSettings(VmId, "hv-paris-1", "hv-lyon-1");
        // The deprecated Msvm_ComputerSystem.ReplicationState lags; the relationship is what counts.
        var running = Vm(MmiShapes.ComputerSystem(VmId, "web1", 2, replicationMode: 2, replicationState: 3), MmiShapes.ReplicationRelationship(VmId, 3, health: 3), settings);
        var failing = Vm(MmiShapes.ComputerSystem(VmId, "web1", 2, replicationMode: 2, failedOverReplicationType: 1, replicationState: 3),
            MmiShapes.ReplicationRelationship(VmId, 12, health: 3), settings);
        var fact = _atLyon.Translate(running, failing, CimChangeKind.Modified, 5);
        Assert.Equal(WorkloadChange.Failover, fact?.Change);
        Assert.Equal("paris", fact?.PreviousSite);
    }

    [Fact]
    public void Test_failover_replica_is_not_a_move()
    {
        var test = Vm(MmiShapes.ComputerSystem("7A1B2C3D-0000-4000-8000-000000000001", "web1 - Test", 2, replicationMode: 3));
        Assert.Null(_atLyon.Translate(null, test, CimChangeKind.Created, 1));
        Assert.Null(_atLyon.Translate(test, test with { EnabledState = 3 }, CimChangeKind.Modified, 2));
        Assert.Null(_atLyon.Translate(test, null, CimChangeKind.Deleted, 3));
    }

    [Fact]
    public void Failback_names_the_recovery_site_it_returns_from()
    {
        var settings = MmiShapes.ReplicationSettings(VmId, "hv-paris-1", "hv-lyon-1");
        var off = Vm(MmiShapes.ComputerSystem(VmId, "web1", 3, replicationMode: 1, replicationState: 13), MmiShapes.ReplicationRelationship(VmId, 13), settings);
        var back = Vm(MmiShapes.ComputerSystem(VmId, "web1", 2, replicationMode: 1, replicationState: 14), MmiShapes.ReplicationRelationship(VmId, 14), settings);
        var fact = _atParis.Translate(off, back, CimChangeKind.Modified, 9);
        Assert.NotNull(fact);
        Assert.Equal((WorkloadChange.Failback, "paris", "hv-lyon-1", "lyon"), (fact.Change, fact.Site, fact.PreviousHost, fact.PreviousSite));
    }

    [Fact]
    public void Vm_without_integration_services_is_reported_with_macs_then_again_once_kvp_has_addresses()
    {
        var bare = Vm(MmiShapes.ComputerSystem(VmId, "web1", 2), guest: false);
        var first = _atLyon.Translate(null, bare, CimChangeKind.Created, 1);
        Assert.Equal(WorkloadChange.Migrated, first?.Change);
        Assert.Empty(first!.Addresses);
        Assert.Single(first.Macs);
        Assert.Null(_atLyon.Translate(bare, bare, CimChangeKind.Modified, 2));
        var withKvp = Vm(MmiShapes.ComputerSystem(VmId, "web1", 2), guest: false, kvp: true);
        var second = _atLyon.Translate(bare, withKvp, CimChangeKind.Modified, 3);
        Assert.Equal(WorkloadChange.Discovered, second?.Change);
        Assert.Equal([IPAddress.Parse("10.1.0.10"), IPAddress.Parse("2001:db8:1::10")], second!.Addresses);
    }

    [Fact]
    public void Power_off_on_and_deletion()
    {
        var on = Vm(MmiShapes.ComputerSystem(VmId, "web1", 2));
        var off = Vm(MmiShapes.ComputerSystem(VmId, "web1", 3));
        Assert.Equal(WorkloadChange.PoweredOff, _atParis.Translate(on, off, CimChangeKind.Modified, 1)?.Change);
        Assert.Equal(WorkloadChange.PoweredOn, _atParis.Translate(off, on, CimChangeKind.Modified, 2)?.Change);
        Assert.Equal(WorkloadChange.Gone, _atParis.Translate(on, null, CimChangeKind.Deleted, 3)?.Change);
        Assert.Null(_atParis.Translate(off, null, CimChangeKind.Deleted, 4));
    }
}
