namespace LispMobility.Lisp.Auth;

/// <summary>Algorithm ID of Map-Register / Map-Notify authentication (RFC 9301 §5.6).</summary>
public enum AuthAlgorithm : byte
{
    /// <summary>No authentication data.</summary>
    None = 0,
    /// <summary>HMAC-SHA-1-96.</summary>
    HmacSha1_96 = 1,
    /// <summary>HMAC-SHA-256-128 (the default).</summary>
    HmacSha256_128 = 2,
    /// <summary>HMAC-SHA-256-128 keyed with HKDF-SHA256(nonce ‖ PSK, purpose).</summary>
    HmacSha256_128_HkdfSha256 = 3,
}

/// <summary>Which message is authenticated; it names the HKDF info string of algorithm 3.</summary>
public enum AuthPurpose : byte
{
    /// <summary>"Map-Register Authentication".</summary>
    MapRegister,
    /// <summary>"Map-Notify Authentication".</summary>
    MapNotify,
    /// <summary>"Map-Notify-Ack Authentication".</summary>
    MapNotifyAck,
}
