namespace LispMobility.Xtr;

/// <summary>What the xTR counted; read by the metrics endpoint and the tests.</summary>
public sealed class XtrCounters
{
    private long _malformed, _unexpected, _registerSent, _registerRetransmit, _registerAck, _notifyRejected, _notifyAckSent, _away;
    private long _mapReplySent, _requestNotOurs, _smrSent, _smrSuppressed, _smrReceived, _mapRequestSent, _unmatchedReply, _cacheInstalled;
    private long _groupNotifySent, _groupNotifyReceived, _groupNotifyDeferred, _notifyDuplicate, _unsupportedEid, _timerFaults, _receiveFaults;
    private long _probeSent, _probeReplyReceived, _probeReplySent, _rlocDown, _rlocUp;

    /// <summary>Datagrams that did not decode.</summary>
    public long MalformedCount => Interlocked.Read(ref _malformed);
    /// <summary>Message types an xTR does not take.</summary>
    public long UnexpectedCount => Interlocked.Read(ref _unexpected);
    /// <summary>Map-Registers sent.</summary>
    public long RegistersSent => Interlocked.Read(ref _registerSent);
    /// <summary>Host registrations retransmitted.</summary>
    public long RegisterRetransmits => Interlocked.Read(ref _registerRetransmit);
    /// <summary>Map-Notifies that acknowledged a Map-Register.</summary>
    public long RegistersAcknowledged => Interlocked.Read(ref _registerAck);
    /// <summary>Map-Notifies refused (unknown sender, bad MAC).</summary>
    public long NotifiesRejected => Interlocked.Read(ref _notifyRejected);
    /// <summary>Map-Server news received again after it was applied (its acknowledgement was lost): acknowledged again only.</summary>
    public long NotifyDuplicates => Interlocked.Read(ref _notifyDuplicate);
    /// <summary>Map-Notify-Acks sent.</summary>
    public long NotifyAcksSent => Interlocked.Read(ref _notifyAckSent);
    /// <summary>Map-Notifies sent to a map-notify group (extended subnet).</summary>
    public long GroupNotifiesSent => Interlocked.Read(ref _groupNotifySent);
    /// <summary>Map-Notifies from peer xTRs on a map-notify group, authenticated.</summary>
    public long GroupNotifiesReceived => Interlocked.Read(ref _groupNotifyReceived);
    /// <summary>Group records naming another site for a host this xTR was registering, left to the Map-Server to order.</summary>
    public long GroupNotifiesDeferred => Interlocked.Read(ref _groupNotifyDeferred);
    /// <summary>Hosts that went away.</summary>
    public long HostsAway => Interlocked.Read(ref _away);
    /// <summary>Authoritative Map-Replies sent.</summary>
    public long MapRepliesSent => Interlocked.Read(ref _mapReplySent);
    /// <summary>Map-Requests for EIDs this xTR does not hold.</summary>
    public long RequestsNotOurs => Interlocked.Read(ref _requestNotOurs);
    /// <summary>SMRs sent.</summary>
    public long SmrsSent => Interlocked.Read(ref _smrSent);
    /// <summary>SMRs held back by the rate limit.</summary>
    public long SmrsSuppressed => Interlocked.Read(ref _smrSuppressed);
    /// <summary>SMRs received.</summary>
    public long SmrsReceived => Interlocked.Read(ref _smrReceived);
    /// <summary>Map-Requests sent to the Map-Resolver.</summary>
    public long MapRequestsSent => Interlocked.Read(ref _mapRequestSent);
    /// <summary>Map-Replies with no matching nonce.</summary>
    public long UnmatchedReplies => Interlocked.Read(ref _unmatchedReply);
    /// <summary>Map-cache installs.</summary>
    public long CacheInstalls => Interlocked.Read(ref _cacheInstalled);
    /// <summary>Requests and SMRs naming an EID that is not an IP address (another LCAF or AFI): dropped, nothing resolved.</summary>
    public long UnsupportedEids => Interlocked.Read(ref _unsupportedEid);
    /// <summary>Timer work items that failed (a bug): each dropped, logged, and the tick's other work still done.</summary>
    public long TimerFaults => Interlocked.Read(ref _timerFaults);
    /// <summary>Datagrams the xTR failed on (a bug): each dropped and logged.</summary>
    public long ReceiveFaults => Interlocked.Read(ref _receiveFaults);

    /// <summary>RLOC-probes (Map-Requests with P) sent to remote locators.</summary>
    public long RlocProbesSent => Interlocked.Read(ref _probeSent);
    /// <summary>Probe Map-Replies that answered one of our probes.</summary>
    public long RlocProbeRepliesReceived => Interlocked.Read(ref _probeReplyReceived);
    /// <summary>Probe Map-Replies this ETR sent.</summary>
    public long RlocProbeRepliesSent => Interlocked.Read(ref _probeReplySent);
    /// <summary>Remote locators that went down (missed probes or the remote site's locator-status bits).</summary>
    public long RlocsDown => Interlocked.Read(ref _rlocDown);
    /// <summary>Remote locators that came back up.</summary>
    public long RlocsUp => Interlocked.Read(ref _rlocUp);

    internal void ProbeSent() => Interlocked.Increment(ref _probeSent);
    internal void ProbeReplyReceived() => Interlocked.Increment(ref _probeReplyReceived);
    internal void ProbeReplySent() => Interlocked.Increment(ref _probeReplySent);
    internal void RlocDown() => Interlocked.Increment(ref _rlocDown);
    internal void RlocUp() => Interlocked.Increment(ref _rlocUp);
    internal void Malformed() => Interlocked.Increment(ref _malformed);
    internal void Unexpected() => Interlocked.Increment(ref _unexpected);
    internal void RegisterSent() => Interlocked.Increment(ref _registerSent);
    internal void RegisterRetransmit() => Interlocked.Increment(ref _registerRetransmit);
    internal void RegisterAcknowledged() => Interlocked.Increment(ref _registerAck);
    internal void NotifyRejected() => Interlocked.Increment(ref _notifyRejected);
    internal void GroupNotifySent() => Interlocked.Increment(ref _groupNotifySent);
    internal void GroupNotifyReceived() => Interlocked.Increment(ref _groupNotifyReceived);
    internal void GroupNotifyDeferred() => Interlocked.Increment(ref _groupNotifyDeferred);
    internal void NotifyDuplicate() => Interlocked.Increment(ref _notifyDuplicate);
    internal void NotifyAckSent() => Interlocked.Increment(ref _notifyAckSent);
    internal void WentAway() => Interlocked.Increment(ref _away);
    internal void MapReplySent() => Interlocked.Increment(ref _mapReplySent);
    internal void RequestNotOurs() => Interlocked.Increment(ref _requestNotOurs);
    internal void SmrSent() => Interlocked.Increment(ref _smrSent);
    internal void SmrSuppressed() => Interlocked.Increment(ref _smrSuppressed);
    internal void SmrReceived() => Interlocked.Increment(ref _smrReceived);
    internal void MapRequestSent() => Interlocked.Increment(ref _mapRequestSent);
    internal void UnmatchedReply() => Interlocked.Increment(ref _unmatchedReply);
    internal void CacheInstalled() => Interlocked.Increment(ref _cacheInstalled);
    internal void UnsupportedEid() => Interlocked.Increment(ref _unsupportedEid);
    internal void TimerFault() => Interlocked.Increment(ref _timerFaults);
    internal void ReceiveFault() => Interlocked.Increment(ref _receiveFaults);
}
