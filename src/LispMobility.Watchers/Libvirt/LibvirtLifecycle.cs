namespace LispMobility.Watchers.Libvirt;

/// <summary>
/// What a libvirt lifecycle event means for placement (virDomainEventType and its details, libvirt-domain.h):
/// STARTED or RESUMED with the MIGRATED detail is an arrival here by live migration; STOPPED or SUSPENDED with MIGRATED is
/// the source side of one (the domain left); other starts are power-ons, other stops power-offs, UNDEFINED is gone.
/// A pause, a resume from pause, a definition or a crash dump changes no placement.
/// </summary>
internal static class LibvirtLifecycle
{
    // virDomainEventType
    public const int Defined = 0, Undefined = 1, Started = 2, Suspended = 3, Resumed = 4, Stopped = 5, Shutdown = 6;

    // The MIGRATED detail of each type: virDomainEventStartedDetailType 1, ...SuspendedDetailType 1, ...ResumedDetailType 1,
    // ...StoppedDetailType 3.
    public const int StartedMigrated = 1, SuspendedMigrated = 1, ResumedMigrated = 1, StoppedMigrated = 3;

    /// <summary>The fact an event calls for, or null when it changes no placement.</summary>
    public static WorkloadChange? Translate(int type, int detail) => type switch
    {
        Started => detail == StartedMigrated ? WorkloadChange.Migrated : WorkloadChange.PoweredOn,
        Resumed => detail == ResumedMigrated ? WorkloadChange.Migrated : null,
        Suspended => detail == SuspendedMigrated ? WorkloadChange.Gone : null,
        Stopped => detail == StoppedMigrated ? WorkloadChange.Gone : WorkloadChange.PoweredOff,
        Undefined => WorkloadChange.Gone,
        _ => null,
    };
}
