namespace LispMobility.Watchers.HyperV;

/// <summary>
/// The CIM subscriptions of a Hyper-V host and how one of their indications becomes a <see cref="CimChange"/>. Pure:
/// the MMI transport hands every indication here, tests hand fixtures shaped like MMI's (an indication instance with
/// the changed instance embedded as <c>TargetInstance</c>, its former state as <c>PreviousInstance</c>).
/// </summary>
public static class HyperVIndications
{
    /// <summary>The WQL queries <see cref="IHyperVCim.Watch"/> subscribes to in <see cref="HyperVCimValues.Namespace"/>.</summary>
    public static readonly IReadOnlyList<string> Queries =
    [
        // VM state (power, OperationalStatus "Migrating", the deprecated replication properties).
        "SELECT * FROM CIM_InstModification WHERE TargetInstance ISA 'Msvm_ComputerSystem'",
        // A VM live-migrated in appears as a creation on the destination, one migrated away as a deletion on the source.
        "SELECT * FROM CIM_InstCreation WHERE TargetInstance ISA 'Msvm_ComputerSystem'",
        "SELECT * FROM CIM_InstDeletion WHERE TargetInstance ISA 'Msvm_ComputerSystem'",
        // Migration jobs (Msvm_MigrationJob derives from CIM_ConcreteJob like Msvm_ConcreteJob): their completion.
        "SELECT * FROM CIM_InstModification WHERE TargetInstance ISA 'Msvm_MigrationJob'",
        // Hyper-V Replica: ReplicationState lives in Msvm_ReplicationRelationship since 2012 R2.
        "SELECT * FROM CIM_InstModification WHERE TargetInstance ISA 'Msvm_ReplicationRelationship'",
    ];

    /// <summary>The change an indication announces, or null when it announces nothing the watcher follows.</summary>
    public static CimChange? ToChange(CimInstance indication)
    {
        ArgumentNullException.ThrowIfNull(indication);
        // CIM names the changed instance SourceInstance in the DMTF schema; WMI's providers fill TargetInstance.
        var target = indication.Instance("TargetInstance") ?? indication.Instance("SourceInstance");
        if (target is null) return null;
        var kind = indication.ClassName switch
        {
            "CIM_InstCreation" or "__InstanceCreationEvent" => CimChangeKind.Created,
            "CIM_InstDeletion" or "__InstanceDeletionEvent" => CimChangeKind.Deleted,
            "CIM_InstModification" or "__InstanceModificationEvent" => CimChangeKind.Modified,
            _ => (CimChangeKind?)null,
        };
        if (kind is null) return null;
        switch (target.ClassName)
        {
            case "Msvm_ComputerSystem":
                // The host itself is a Msvm_ComputerSystem too (its Name is the computer name, not a GUID).
                var id = target.String("Name");
                return id is not null && Guid.TryParse(id, out _) ? new CimChange(kind.Value, id, target.String("ElementName")) : null;
            case "Msvm_MigrationJob":
                var vm = target.String("VirtualSystemName");
                var completed = target.Integer("JobState") == HyperVCimValues.JobStateCompleted
                    && indication.Instance("PreviousInstance")?.Integer("JobState") != HyperVCimValues.JobStateCompleted;
                return kind == CimChangeKind.Modified && completed && vm is not null && Guid.TryParse(vm, out _)
                    && target.Integer("MigrationType") is { } type && HyperVCimValues.MovesTheVm(type)
                    ? new CimChange(CimChangeKind.LiveMigrationLogged, vm)
                    : null;
            case "Msvm_ReplicationRelationship":
                // InstanceID is Microsoft:<vmid>\HVR\<n>: only a change of ReplicationState is news.
                var instance = target.String("InstanceID");
                var vmId = instance?.StartsWith("Microsoft:", StringComparison.OrdinalIgnoreCase) == true ? instance[10..].Split('\\')[0] : null;
                var previous = indication.Instance("PreviousInstance");
                return vmId is not null && Guid.TryParse(vmId, out _)
                    && (previous is null || previous.Integer("ReplicationState") != target.Integer("ReplicationState"))
                    ? new CimChange(CimChangeKind.Modified, vmId)
                    : null;
            default:
                return null;
        }
    }

    /// <summary>True when the indication says a live migration of the VM has just begun (OperationalStatus gained 32774).</summary>
    public static bool MigrationStarted(CimInstance indication)
    {
        ArgumentNullException.ThrowIfNull(indication);
        var target = indication.Instance("TargetInstance");
        return target?.ClassName == "Msvm_ComputerSystem"
            && target.Integers("OperationalStatus").Contains(HyperVCimValues.OperationalStatusMigrating)
            && indication.Instance("PreviousInstance")?.Integers("OperationalStatus").Contains(HyperVCimValues.OperationalStatusMigrating) != true;
    }
}
