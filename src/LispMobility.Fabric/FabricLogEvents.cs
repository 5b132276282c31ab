namespace LispMobility.Fabric;

/// <summary>This assembly's event-id block (6000–6999): every [LoggerMessage] here takes its id from it (docs/logging.md lists every block).</summary>
/// <remarks>6000–6099 the HTTP device channel, 6100 NX-API, 6200 RESTCONF, 6300 Linux gateway. A test fails on an id outside the block or used twice across assemblies.</remarks>
internal static class FabricLogEvents
{
    public const int First = 6000;
    public const int Last = 6999;
}
