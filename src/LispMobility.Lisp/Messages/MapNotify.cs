using LispMobility.Lisp.Auth;

namespace LispMobility.Lisp.Messages;

/// <summary>
/// Map-Notify (type 4, RFC 9301 §5.7): the Map-Server confirms a registration (M bit) or tells an
/// xTR that a mapping changed. Same body as Map-Register; the I bit (bit 4, as in
/// draft-ietf-lisp-rfc6833bis) says an xTR-ID/site-ID follows the records.
/// <code>
/// |Type=4 |I|R|            Reserved                 | Record Count  |
/// |  Nonce (64) | Key ID | Algorithm ID | Auth Data Length | Auth Data | Records |
/// </code>
/// </summary>
public sealed record MapNotify : AuthenticatedMessage
{
    internal const int IBit = 1 << 19;

    /// <inheritdoc />
    public override LispMessageType Type => LispMessageType.MapNotify;

    /// <inheritdoc />
    protected override AuthPurpose Purpose => AuthPurpose.MapNotify;

    /// <inheritdoc />
    protected override int FlagBits => XtrId.HasValue ? IBit : 0;

    /// <summary>Validates a Map-Notify without allocating.</summary>
    public static bool TryReadView(ReadOnlySpan<byte> datagram, out AuthenticatedMessageView view, out LispError error) =>
        AuthenticatedMessageView.TryRead(datagram, LispMessageType.MapNotify, IBit, out view, out error);

    /// <summary>Reads a Map-Notify.</summary>
    public static bool TryRead(ReadOnlySpan<byte> datagram, out MapNotify message, out LispError error)
    {
        message = null!;
        if (!TryReadView(datagram, out var v, out error)) return false;
        message = WithBody(new MapNotify(), v);
        return true;
    }
}

/// <summary>
/// Map-Notify-Ack (type 5, RFC 9301 §5.7): an xTR acknowledges an unsolicited Map-Notify, echoing its
/// nonce and records, authenticated with the same key.
/// </summary>
public sealed record MapNotifyAck : AuthenticatedMessage
{
    /// <inheritdoc />
    public override LispMessageType Type => LispMessageType.MapNotifyAck;

    /// <inheritdoc />
    protected override AuthPurpose Purpose => AuthPurpose.MapNotifyAck;

    /// <inheritdoc />
    protected override int FlagBits => XtrId.HasValue ? MapNotify.IBit : 0;

    /// <summary>Validates a Map-Notify-Ack without allocating.</summary>
    public static bool TryReadView(ReadOnlySpan<byte> datagram, out AuthenticatedMessageView view, out LispError error) =>
        AuthenticatedMessageView.TryRead(datagram, LispMessageType.MapNotifyAck, MapNotify.IBit, out view, out error);

    /// <summary>Reads a Map-Notify-Ack.</summary>
    public static bool TryRead(ReadOnlySpan<byte> datagram, out MapNotifyAck message, out LispError error)
    {
        message = null!;
        if (!TryReadView(datagram, out var v, out error)) return false;
        message = WithBody(new MapNotifyAck(), v);
        return true;
    }

    /// <summary>The acknowledgement of <paramref name="notify"/>: same nonce, key and records (to be signed).</summary>
    public static MapNotifyAck For(MapNotify notify)
    {
        ArgumentNullException.ThrowIfNull(notify);
        return new MapNotifyAck
        {
            Nonce = notify.Nonce, KeyId = notify.KeyId, Algorithm = notify.Algorithm, TruncateMac = notify.TruncateMac,
            Records = notify.Records, XtrId = notify.XtrId, SiteId = notify.SiteId,
        };
    }
}
