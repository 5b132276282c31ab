namespace LispMobility.Watchers.HyperV;

/// <summary>
/// Turns two snapshots of a VM (before and after a CIM change) into at most one fact. Pure: no WMI, no clock.
/// A test failover's VM (ReplicationMode 3) never yields a fact: it is not a move.
/// </summary>
public sealed class HyperVTranslator(SiteMapOptions sites, string hostName)
{
    // Msvm_ReplicationRelationship.ReplicationState: 5 Recovered, 6 Committed, 12 Failover in progress (HyperVCimValues).
    private static readonly ushort[] FailedOverStates = HyperVCimValues.ReplicationStatesFailedOver;
    // 13 Failback in progress, 14 Failback complete.
    private static readonly ushort[] FailbackStates = HyperVCimValues.ReplicationStatesFailingBack;

    /// <summary>The fact for this change, or null when nothing worth reporting happened.</summary>
    public WorkloadObserved? Translate(HyperVVm? before, HyperVVm? after, CimChangeKind kind, long timestamp)
    {
        var site = sites.SiteOf(hostName);
        if (after is null)
        {
            return before is { IsRunning: true, ReplicationMode: not HyperVVm.TestReplica }
                ? Fact(before, WorkloadChange.Gone, site, timestamp)
                : null;
        }
        var was = before is null ? Placement.Unknown : Classify(before);
        var now = Classify(after);
        switch (now)
        {
            case Placement.TestReplica:
                return null;
            case Placement.Off:
                return was is Placement.Running or Placement.FailedOver or Placement.FailingBack
                    ? Fact(after, WorkloadChange.PoweredOff, site, timestamp)
                    : null;
            case Placement.FailedOver when was != Placement.FailedOver:
                return Fact(after, WorkloadChange.Failover, site, timestamp, after.PrimaryHost);
            case Placement.FailingBack when was != Placement.FailingBack:
                return Fact(after, WorkloadChange.Failback, site, timestamp, after.RecoveryHost);
            case Placement.Running when was is Placement.Unknown or Placement.TestReplica:
                return Fact(after, kind is CimChangeKind.Created or CimChangeKind.LiveMigrationLogged ? WorkloadChange.Migrated : WorkloadChange.Discovered, site, timestamp);
            case Placement.Running when was == Placement.Off:
                return Fact(after, WorkloadChange.PoweredOn, site, timestamp);
            default:
                // Same placement: only new guest addresses (integration services came up, an IP was added) are news.
                return before is not null && !before.Addresses.ToHashSet().SetEquals(after.Addresses) && after.Addresses.Count > 0
                    ? Fact(after, WorkloadChange.Discovered, site, timestamp)
                    : null;
        }
    }

    private static Placement Classify(HyperVVm vm) => vm switch
    {
        { ReplicationMode: HyperVVm.TestReplica } => Placement.TestReplica,
        { IsRunning: false } => Placement.Off,
        { ReplicationState: { } s } when FailbackStates.Contains(s) => Placement.FailingBack,
        // A replica (2) or extended replica (4) that runs has been failed over to; the relationship state confirms it,
        // or Msvm_ComputerSystem.FailedOverReplicationType above 0 (1 regular, 2 application-consistent, 3 planned).
        { ReplicationMode: 2 or 4, ReplicationState: { } s } when FailedOverStates.Contains(s) => Placement.FailedOver,
        { ReplicationMode: 2 or 4, FailedOverReplicationType: > 0 } => Placement.FailedOver,
        _ => Placement.Running,
    };

    private WorkloadObserved Fact(HyperVVm vm, WorkloadChange change, string? site, long timestamp, string? previousHost = null) =>
        new(vm.Id, vm.Name, vm.Macs, vm.Addresses, hostName, site, change, WorkloadSources.HyperV, timestamp,
            previousHost, previousHost is null ? null : sites.SiteOf(previousHost));

    private enum Placement { Unknown, Off, TestReplica, Running, FailedOver, FailingBack }
}
