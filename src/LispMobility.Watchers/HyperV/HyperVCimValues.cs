namespace LispMobility.Watchers.HyperV;

/// <summary>
/// The Hyper-V WMI values (namespace <c>root\virtualization\v2</c>) the watcher relies on, each with the Microsoft
/// documentation page it comes from ("Hyper-V WMI provider (V2)" class reference). docs/configuration.md lists them too.
/// </summary>
public static class HyperVCimValues
{
    /// <summary>The CIM namespace of the Hyper-V WMI provider (V2).</summary>
    public const string Namespace = @"root\virtualization\v2";

    /// <summary><c>Msvm_ComputerSystem.EnabledState</c> 2 "Enabled": the VM runs (3 is "Disabled", off).</summary>
    public const ushort EnabledStateRunning = 2;

    /// <summary>
    /// <c>Msvm_ComputerSystem.OperationalStatus</c> (array; the second element carries the detail) 32774
    /// "Migrating": a live migration of the VM is under way. Logged, not a fact: the move is the creation on the
    /// destination (or the completed <c>Msvm_MigrationJob</c>).
    /// </summary>
    public const ushort OperationalStatusMigrating = 32774;

    /// <summary><c>Msvm_ComputerSystem.ReplicationMode</c>: 0 none, 1 primary, 2 replica, 3 test replica, 4 extended replica.</summary>
    public const ushort ReplicationModeTestReplica = 3;

    /// <summary>
    /// <c>Msvm_ComputerSystem.FailedOverReplicationType</c>: 0 none, 1 regular (unplanned) failover, 2 application-consistent
    /// failover, 3 planned failover. Above 0 on a running replica: it has been failed over to.
    /// </summary>
    public const ushort FailedOverReplicationTypeNone = 0;

    /// <summary>
    /// <c>Msvm_ReplicationRelationship.ReplicationState</c> values that make the replica the running copy:
    /// 5 "Recovered" (failed over), 6 "Committed" (failover committed), 12 "Failover in progress".
    /// (The same property on Msvm_ComputerSystem is deprecated since Windows Server 2012 R2, still read as a fallback.)
    /// </summary>
    public static readonly ushort[] ReplicationStatesFailedOver = [5, 6, 12];

    /// <summary><c>Msvm_ReplicationRelationship.ReplicationState</c> 13 "Failback in progress", 14 "Failback complete".</summary>
    public static readonly ushort[] ReplicationStatesFailingBack = [13, 14];

    /// <summary>
    /// <c>Msvm_MigrationJob.MigrationType</c> (values of <c>Msvm_VirtualSystemMigrationSettingData.MigrationType</c>):
    /// 32768 virtual system (live migration), 32769 storage only, 32770 staged, 32771 virtual system and storage,
    /// 32772 storage then virtual system (deferred). Every type but 32769 moves the running VM to another host.
    /// </summary>
    public static bool MovesTheVm(long migrationType) => migrationType is 32768 or (>= 32770 and <= 32772);

    /// <summary><c>Msvm_MigrationJob.JobState</c> (from CIM_ConcreteJob, which Msvm_MigrationJob derives from) 7 "Completed".</summary>
    public const ushort JobStateCompleted = 7;
}
