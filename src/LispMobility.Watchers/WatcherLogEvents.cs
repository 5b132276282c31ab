namespace LispMobility.Watchers;

/// <summary>This assembly's event-id block (4000–4999): every [LoggerMessage] here takes its id from it (docs/logging.md lists every block).</summary>
/// <remarks>Sub-blocks per watcher are in WatcherEventIds.md. A test fails on an id outside the block or used twice across assemblies.</remarks>
internal static class WatcherLogEvents
{
    public const int First = 4000;
    public const int Last = 4999;
}
