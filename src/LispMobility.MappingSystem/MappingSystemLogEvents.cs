namespace LispMobility.MappingSystem;

/// <summary>This assembly's event-id block (1000–1999): every [LoggerMessage] here takes its id from it (docs/logging.md lists every block).</summary>
/// <remarks>1000–1099 the Map-Server and Map-Resolver. A test fails on an id outside the block or used twice across assemblies.</remarks>
internal static class MappingSystemLogEvents
{
    public const int First = 1000;
    public const int Last = 1999;
}
