using LispMobility.Lisp.Auth;

namespace LispMobility.Lisp.Messages;

/// <summary>
/// Map-Register (type 3, RFC 9301 §5.6): an ETR registers its EID-prefixes with a Map-Server.
/// <code>
/// |Type=3 |P|S|I|        Reserved       |E|T|a|R|M| Record Count  |
/// |                         Nonce . . .                           |
/// |                         . . . Nonce                           |
/// |    Key ID     | Algorithm ID  |  Authentication Data Length   |
/// ~                     Authentication Data                       ~
/// |   Records ...  | xTR-ID (128) | Site-ID (64) when I            |
/// </code>
/// </summary>
public sealed record MapRegister : AuthenticatedMessage
{
    internal const int PBit = 1 << 19, SBit = 1 << 18, IBit = 1 << 17, EBit = 1 << 4, TBit = 1 << 3, ABit = 1 << 2, RBit = 1 << 1, MBit = 1;

    /// <inheritdoc />
    public override LispMessageType Type => LispMessageType.MapRegister;

    /// <summary>P: the Map-Server answers Map-Requests for these EIDs itself (proxy Map-Reply).</summary>
    public bool ProxyMapReply { get; init; }

    /// <summary>S: the ETR is LISP-SEC capable.</summary>
    public bool LispSecCapable { get; init; }

    /// <summary>E: EID-notify (draft-ietf-lisp-eid-mobility).</summary>
    public bool EidNotify { get; init; }

    /// <summary>T: use the record TTL as the registration timeout.</summary>
    public bool UseTtlForTimeout { get; init; }

    /// <summary>a: merge with the registrations of the site's other ETRs.</summary>
    public bool MergeRequest { get; init; }

    /// <summary>R: the registration comes from an RTR (carried, not acted on).</summary>
    public bool FromRtr { get; init; }

    /// <summary>M: the ETR wants a Map-Notify back.</summary>
    public bool WantMapNotify { get; init; }

    /// <inheritdoc />
    protected override AuthPurpose Purpose => AuthPurpose.MapRegister;

    /// <inheritdoc />
    protected override int FlagBits =>
        (ProxyMapReply ? PBit : 0) | (LispSecCapable ? SBit : 0) | (XtrId.HasValue ? IBit : 0) | (EidNotify ? EBit : 0) |
        (UseTtlForTimeout ? TBit : 0) | (MergeRequest ? ABit : 0) | (FromRtr ? RBit : 0) | (WantMapNotify ? MBit : 0);

    /// <summary>Validates a Map-Register without allocating.</summary>
    public static bool TryReadView(ReadOnlySpan<byte> datagram, out AuthenticatedMessageView view, out LispError error) =>
        AuthenticatedMessageView.TryRead(datagram, LispMessageType.MapRegister, IBit, out view, out error);

    /// <summary>Reads a Map-Register.</summary>
    public static bool TryRead(ReadOnlySpan<byte> datagram, out MapRegister message, out LispError error)
    {
        message = null!;
        if (!TryReadView(datagram, out var v, out error)) return false;
        message = FromView(v);
        return true;
    }

    /// <summary>Builds the heap message from a validated view.</summary>
    public static MapRegister FromView(AuthenticatedMessageView v)
    {
        var f = v.Flags;
        return WithBody(new MapRegister
        {
            ProxyMapReply = (f & PBit) != 0, LispSecCapable = (f & SBit) != 0, EidNotify = (f & EBit) != 0,
            UseTtlForTimeout = (f & TBit) != 0, MergeRequest = (f & ABit) != 0, FromRtr = (f & RBit) != 0, WantMapNotify = (f & MBit) != 0,
        }, v);
    }
}
