namespace LispMobility.Xtr;

/// <summary>This assembly's event-id block (2000–2999): every [LoggerMessage] here takes its id from it (docs/logging.md lists every block).</summary>
/// <remarks>2000–2099 the xTR engine and node. A test fails on an id outside the block or used twice across assemblies.</remarks>
internal static class XtrLogEvents
{
    public const int First = 2000;
    public const int Last = 2999;
}
