namespace LispMobility.Mobility;

/// <summary>This assembly's event-id block (3000–3999): every [LoggerMessage] here takes its id from it (docs/logging.md lists every block).</summary>
/// <remarks>3000–3099 the coordinator's moves (the README cites 3002), 3100–3199 the move detector. A test fails on an id outside the block or used twice across assemblies.</remarks>
internal static class MobilityLogEvents
{
    public const int First = 3000;
    public const int Last = 3999;
}
