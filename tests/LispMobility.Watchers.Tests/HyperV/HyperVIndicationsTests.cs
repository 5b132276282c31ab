using LispMobility.Watchers.HyperV;

namespace LispMobility.Watchers.Tests.HyperV;

/// <summary>MMI-shaped indications (TargetInstance / PreviousInstance embedded) into changes.</summary>
public sealed class HyperVIndicationsTests
{
    private const string VmId = "3F2504E0-4F89-11D3-9A0C-0305E82C3301";

    [Fact]
    public void Vm_creation_modification_and_deletion_name_the_vm_by_its_guid()
    {
        var on = MmiShapes.ComputerSystem(VmId, "web1", 2);
        var off = MmiShapes.ComputerSystem(VmId, "web1", 3);
        Assert.Equal(new CimChange(CimChangeKind.Created, VmId, "web1"), HyperVIndications.ToChange(MmiShapes.Creation(on)));
        Assert.Equal(new CimChange(CimChangeKind.Modified, VmId, "web1"), HyperVIndications.ToChange(MmiShapes.Modification(on, off)));
        Assert.Equal(new CimChange(CimChangeKind.Deleted, VmId, "web1"), HyperVIndications.ToChange(MmiShapes.Deletion(off)));
        Assert.Null(HyperVIndications.ToChange(MmiShapes.Modification(MmiShapes.HostSystem("hv-lyon-1"), MmiShapes.HostSystem("hv-lyon-1"))));
        Assert.Null(HyperVIndications.ToChange(new CimInstance("CIM_InstModification", new Dictionary<string, object?>())));
    }

    [Fact]
    public void Operational_status_migrating_is_seen_when_it_appears()
    {
        var running = MmiShapes.ComputerSystem(VmId, "web1", 2);
        var migrating = MmiShapes.ComputerSystem(VmId, "web1", 2, migrating: true);
        Assert.True(HyperVIndications.MigrationStarted(MmiShapes.Modification(running, migrating)));
        Assert.False(HyperVIndications.MigrationStarted(MmiShapes.Modification(migrating, migrating)));
        Assert.False(HyperVIndications.MigrationStarted(MmiShapes.Modification(migrating, running)));
    }

    [Fact]
    public void A_completed_migration_job_that_moved_the_vm_is_a_second_signal_storage_only_is_not()
    {
        var running = MmiShapes.MigrationJob(VmId, 4);
        var completed = MmiShapes.MigrationJob(VmId, 7);
        Assert.Equal(new CimChange(CimChangeKind.LiveMigrationLogged, VmId), HyperVIndications.ToChange(MmiShapes.Modification(running, completed)));
        Assert.Null(HyperVIndications.ToChange(MmiShapes.Modification(MmiShapes.MigrationJob(VmId, 3), running)));
        Assert.Null(HyperVIndications.ToChange(MmiShapes.Modification(completed, completed))); // already reported
        Assert.Null(HyperVIndications.ToChange(MmiShapes.Modification(MmiShapes.MigrationJob(VmId, 4, 32769), MmiShapes.MigrationJob(VmId, 7, 32769))));
        foreach (ushort type in new ushort[] { 32768, 32770, 32771, 32772 })
            Assert.NotNull(HyperVIndications.ToChange(MmiShapes.Modification(MmiShapes.MigrationJob(VmId, 4, type), MmiShapes.MigrationJob(VmId, 7, type))));
    }

    [Fact]
    public void A_replication_state_change_reads_the_vm_again_other_relationship_changes_do_not()
    {
        var replicating = MmiShapes.ReplicationRelationship(VmId, 3);
        var failingOver = MmiShapes.ReplicationRelationship(VmId, 12, health: 3);
        Assert.Equal(new CimChange(CimChangeKind.Modified, VmId), HyperVIndications.ToChange(MmiShapes.Modification(replicating, failingOver)));
        Assert.Null(HyperVIndications.ToChange(MmiShapes.Modification(replicating, MmiShapes.ReplicationRelationship(VmId, 3, health: 2))));
    }

    [Fact]
    public void Subscriptions_cover_vms_migration_jobs_and_replication()
    {
        Assert.Contains("SELECT * FROM CIM_InstModification WHERE TargetInstance ISA 'Msvm_ComputerSystem'", HyperVIndications.Queries);
        Assert.Contains(HyperVIndications.Queries, q => q.Contains("'Msvm_MigrationJob'", StringComparison.Ordinal));
        Assert.Contains(HyperVIndications.Queries, q => q.Contains("'Msvm_ReplicationRelationship'", StringComparison.Ordinal));
        Assert.Equal(@"root\virtualization\v2", HyperVCimValues.Namespace);
    }
}
