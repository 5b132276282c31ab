namespace LispMobility.MappingSystem;

/// <summary>Why the Map-Server refused a message.</summary>
public enum RejectReason
{
    /// <summary>The datagram did not decode.</summary>
    Malformed,
    /// <summary>A message type the Map-Server does not take (Map-Reply, Map-Referral...).</summary>
    UnexpectedType,
    /// <summary>Algorithm 0: registrations must be authenticated.</summary>
    NoAuthentication,
    /// <summary>No configured site admits the registered EID-prefix.</summary>
    NoSite,
    /// <summary>No key with the message's key-id at the candidate sites (or another algorithm).</summary>
    UnknownKey,
    /// <summary>The MAC did not verify.</summary>
    AuthenticationFailed,
    /// <summary>The nonce was seen lately from that xTR and key, or is not above the last one where the site (or the xTR's own nonces) is monotonic.</summary>
    Replay,
    /// <summary>A record lies outside the authenticated site's prefixes (or is more specific where that is not allowed).</summary>
    EidOutsideSite,
    /// <summary>A locator is not in the site's allowed RLOC list.</summary>
    RlocNotAllowed,
    /// <summary>A Map-Notify-Ack for no pending Map-Notify, or with a bad MAC.</summary>
    UnmatchedNotifyAck,
    /// <summary>A Map-Request over its requester's rate.</summary>
    RateLimited,
    /// <summary>
    /// A record of an EID its registrant was told it lost (unsolicited Map-Notify) and has not acknowledged yet: a refresh sent
    /// before the news arrived, not a move back. Only that record is skipped, and the news sent again.
    /// </summary>
    StaleRegistration,
    /// <summary>A Map-Request whose EID or source EID is not an IP address (another AFI or LCAF): not answered, not forwarded.</summary>
    UnsupportedEid,
}

/// <summary>Everything the Map-Server counts; read by the metrics endpoint and the tests.</summary>
public sealed class MapServerCounters
{
    private readonly long[] _rejected = new long[Enum.GetValues<RejectReason>().Length];
    private long _registersAccepted, _mapNotifiesSent, _unsolicitedNotifies, _notifyRetransmits, _notifyAcks, _notifyGiveUps;
    private long _expired, _withdrawn, _moves, _mapRequests, _proxyReplies, _forwarded, _negativeReplies, _smrsSent;

    /// <summary>Map-Registers accepted.</summary>
    public long RegistersAccepted => Interlocked.Read(ref _registersAccepted);
    /// <summary>Map-Notifies sent for the M bit.</summary>
    public long MapNotifiesSent => Interlocked.Read(ref _mapNotifiesSent);
    /// <summary>Unsolicited Map-Notifies sent to previous registrants (first transmissions).</summary>
    public long UnsolicitedNotifiesSent => Interlocked.Read(ref _unsolicitedNotifies);
    /// <summary>Retransmissions of unsolicited Map-Notifies.</summary>
    public long NotifyRetransmits => Interlocked.Read(ref _notifyRetransmits);
    /// <summary>Map-Notify-Acks that completed a pending Map-Notify.</summary>
    public long NotifyAcks => Interlocked.Read(ref _notifyAcks);
    /// <summary>Unsolicited Map-Notifies given up after every retry.</summary>
    public long NotifyGiveUps => Interlocked.Read(ref _notifyGiveUps);
    /// <summary>Registrations that lapsed.</summary>
    public long Expired => Interlocked.Read(ref _expired);
    /// <summary>Registrations withdrawn with TTL 0.</summary>
    public long Withdrawn => Interlocked.Read(ref _withdrawn);
    /// <summary>EIDs that appeared under another site's RLOCs.</summary>
    public long Moves => Interlocked.Read(ref _moves);
    /// <summary>Map-Requests taken (after rate limiting).</summary>
    public long MapRequests => Interlocked.Read(ref _mapRequests);
    /// <summary>Map-Replies sent on behalf of ETRs (P bit).</summary>
    public long ProxyReplies => Interlocked.Read(ref _proxyReplies);
    /// <summary>Map-Requests forwarded to an ETR.</summary>
    public long Forwarded => Interlocked.Read(ref _forwarded);
    /// <summary>Negative Map-Replies sent.</summary>
    public long NegativeReplies => Interlocked.Read(ref _negativeReplies);
    /// <summary>SMRs sent to ITRs after a mapping changed.</summary>
    public long SmrsSent => Interlocked.Read(ref _smrsSent);

    /// <summary>Messages refused for <paramref name="reason"/>.</summary>
    public long Rejected(RejectReason reason) => Interlocked.Read(ref _rejected[(int)reason]);

    /// <summary>Every refusal, by reason.</summary>
    public IReadOnlyDictionary<RejectReason, long> RejectedByReason() =>
        Enum.GetValues<RejectReason>().ToDictionary(r => r, Rejected);

    internal void Reject(RejectReason reason) => Interlocked.Increment(ref _rejected[(int)reason]);
    internal void RegisterAccepted() => Interlocked.Increment(ref _registersAccepted);
    internal void MapNotifySent() => Interlocked.Increment(ref _mapNotifiesSent);
    internal void UnsolicitedNotify() => Interlocked.Increment(ref _unsolicitedNotifies);
    internal void NotifyRetransmit() => Interlocked.Increment(ref _notifyRetransmits);
    internal void NotifyAck() => Interlocked.Increment(ref _notifyAcks);
    internal void NotifyGiveUp() => Interlocked.Increment(ref _notifyGiveUps);
    internal void RegistrationExpired() => Interlocked.Increment(ref _expired);
    internal void RegistrationWithdrawn() => Interlocked.Increment(ref _withdrawn);
    internal void Move() => Interlocked.Increment(ref _moves);
    internal void MapRequest() => Interlocked.Increment(ref _mapRequests);
    internal void ProxyReply() => Interlocked.Increment(ref _proxyReplies);
    internal void Forward() => Interlocked.Increment(ref _forwarded);
    internal void NegativeReply() => Interlocked.Increment(ref _negativeReplies);
    internal void Smr() => Interlocked.Increment(ref _smrsSent);
}
