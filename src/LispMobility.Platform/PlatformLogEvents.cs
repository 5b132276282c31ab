namespace LispMobility.Platform;

/// <summary>This assembly's event-id block (100–999): every [LoggerMessage] here takes its id from it (docs/logging.md lists every block).</summary>
/// <remarks>100–199 the UDP transport, 200–299 route programming and the data-plane devices. A test fails on an id outside the block or used twice across assemblies.</remarks>
internal static class PlatformLogEvents
{
    public const int First = 100;
    public const int Last = 999;
}
