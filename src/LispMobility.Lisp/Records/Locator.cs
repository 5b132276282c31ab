using LispMobility.Lisp.Addressing;
using LispMobility.Lisp.Wire;

namespace LispMobility.Lisp.Records;

/// <summary>
/// One RLOC of a mapping record (RFC 9301 §5.4).
/// <code>
/// |    Priority   |    Weight     |  M Priority   |   M Weight    |
/// |        Unused Flags     |L|p|R|           Loc-AFI             |
/// |                             Locator                           |
/// </code>
/// </summary>
public readonly record struct Locator(
    LispAddress Address,
    byte Priority = 1,
    byte Weight = 100,
    byte MulticastPriority = 255,
    byte MulticastWeight = 0,
    bool Local = false,
    bool Probed = false,
    bool Reachable = true)
{
    /// <summary>Priority 255: the locator must not be used for unicast (RFC 9301 §5.4).</summary>
    public const byte DoNotUse = 255;

    /// <summary>True when the locator may carry unicast traffic.</summary>
    public bool IsUsable => Priority != DoNotUse && Reachable;

    /// <summary>Bytes on the wire.</summary>
    public int GetSerializedLength() => 6 + Address.GetSerializedLength();

    internal void Write(ref WireWriter w)
    {
        w.U8(Priority);
        w.U8(Weight);
        w.U8(MulticastPriority);
        w.U8(MulticastWeight);
        w.U16((ushort)((Local ? 4 : 0) | (Probed ? 2 : 0) | (Reachable ? 1 : 0)));
        Address.Write(ref w);
    }

    internal static bool TryRead(ref WireReader r, out Locator locator)
    {
        locator = default;
        if (!r.TryU8("Priority", out var priority) || !r.TryU8("Weight", out var weight) ||
            !r.TryU8("M Priority", out var mPriority) || !r.TryU8("M Weight", out var mWeight) ||
            !r.TryU16("Locator flags", out var flags) || !LispAddress.TryRead(ref r, "Loc-AFI", out var address))
        {
            return false;
        }

        // Unused flag bits are ignored on receipt (RFC 9301 §5.4), not rejected.
        locator = new Locator(address, priority, weight, mPriority, mWeight, (flags & 4) != 0, (flags & 2) != 0, (flags & 1) != 0);
        return true;
    }

    /// <inheritdoc />
    public override string ToString() =>
        FormattableString.Invariant($"{Address} p{Priority}/w{Weight}{(Local ? " L" : "")}{(Probed ? " p" : "")}{(Reachable ? " R" : " unreachable")}");
}
