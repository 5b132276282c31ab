using System.Buffers;
using System.Buffers.Binary;
using System.Security.Cryptography;

namespace LispMobility.Lisp.Auth;

/// <summary>
/// Computes and checks the authentication data of Map-Register, Map-Notify and Map-Notify-Ack: an HMAC
/// over the whole message with the authentication-data field zeroed. Deployed gear sends the full MAC
/// (20 bytes SHA-1, 32 bytes SHA-256) although the algorithm names say 96/128: both lengths are
/// accepted, the full one is written unless truncation is asked for.
/// </summary>
public static class LispAuthentication
{
    private const int StackLimit = 2048;
    private const int HmacBlockSize = 64; // SHA-1 and SHA-256 alike
    private const int InlineHmacLimit = 1024;
    private static ReadOnlySpan<byte> RegisterInfo => "Map-Register Authentication"u8;
    private static ReadOnlySpan<byte> NotifyInfo => "Map-Notify Authentication"u8;
    private static ReadOnlySpan<byte> NotifyAckInfo => "Map-Notify-Ack Authentication"u8;

    /// <summary>Untruncated MAC length of an algorithm (0 for none).</summary>
    public static int FullLength(AuthAlgorithm algorithm) => algorithm switch
    {
        AuthAlgorithm.HmacSha1_96 => 20,
        AuthAlgorithm.HmacSha256_128 or AuthAlgorithm.HmacSha256_128_HkdfSha256 => 32,
        _ => 0,
    };

    /// <summary>Truncated MAC length the algorithm's name gives (12 or 16; 0 for none).</summary>
    public static int TruncatedLength(AuthAlgorithm algorithm) => algorithm switch
    {
        AuthAlgorithm.HmacSha1_96 => 12,
        AuthAlgorithm.HmacSha256_128 or AuthAlgorithm.HmacSha256_128_HkdfSha256 => 16,
        _ => 0,
    };

    /// <summary>True for algorithms this library implements.</summary>
    public static bool IsKnown(AuthAlgorithm algorithm) => algorithm <= AuthAlgorithm.HmacSha256_128_HkdfSha256;

    /// <summary>The length a message should carry for <paramref name="algorithm"/>.</summary>
    public static int LengthFor(AuthAlgorithm algorithm, bool truncated) => truncated ? TruncatedLength(algorithm) : FullLength(algorithm);

    /// <summary>True when <paramref name="length"/> is the algorithm's full or truncated MAC length.</summary>
    public static bool IsAcceptedLength(AuthAlgorithm algorithm, int length) =>
        algorithm == AuthAlgorithm.None ? length == 0 : length == FullLength(algorithm) || length == TruncatedLength(algorithm);

    /// <summary>
    /// Fills the authentication field at <paramref name="authOffset"/> of <paramref name="message"/>
    /// (whose field must already be zero) with the MAC, truncated to the field's length.
    /// </summary>
    public static void Sign(Span<byte> message, int authOffset, int authLength, AuthAlgorithm algorithm, ReadOnlySpan<byte> key, ulong nonce, AuthPurpose purpose)
    {
        if (algorithm == AuthAlgorithm.None) return;
        if (!IsAcceptedLength(algorithm, authLength)) throw new ArgumentException($"{authLength} bytes is no {algorithm} MAC length", nameof(authLength));
        Span<byte> mac = stackalloc byte[32];
        Compute(message, algorithm, key, nonce, purpose, mac);
        mac[..authLength].CopyTo(message.Slice(authOffset, authLength));
    }

    /// <summary>
    /// Checks the MAC of a received message in constant time. The field's declared length must be the
    /// algorithm's full or truncated length.
    /// </summary>
    public static bool Verify(ReadOnlySpan<byte> message, int authOffset, int authLength, AuthAlgorithm algorithm, ReadOnlySpan<byte> key, ulong nonce, AuthPurpose purpose)
    {
        if (algorithm == AuthAlgorithm.None || !IsKnown(algorithm) || !IsAcceptedLength(algorithm, authLength)) return false;
        if (authOffset < 0 || authOffset + authLength > message.Length) return false;

        byte[]? rented = null;
        var copy = message.Length <= StackLimit ? stackalloc byte[message.Length] : (rented = ArrayPool<byte>.Shared.Rent(message.Length)).AsSpan(0, message.Length);
        try
        {
            message.CopyTo(copy);
            copy.Slice(authOffset, authLength).Clear();
            Span<byte> mac = stackalloc byte[32];
            Compute(copy, algorithm, key, nonce, purpose, mac);
            return CryptographicOperations.FixedTimeEquals(mac[..authLength], message.Slice(authOffset, authLength));
        }
        finally
        {
            if (rented is not null) ArrayPool<byte>.Shared.Return(rented);
        }
    }

    private static void Compute(ReadOnlySpan<byte> data, AuthAlgorithm algorithm, ReadOnlySpan<byte> key, ulong nonce, AuthPurpose purpose, Span<byte> mac)
    {
        switch (algorithm)
        {
            case AuthAlgorithm.HmacSha1_96:
                (t_keyedMacs ??= new KeyedMacs()).Compute(sha256: false, key, data, mac);
                break;
            case AuthAlgorithm.HmacSha256_128:
                (t_keyedMacs ??= new KeyedMacs()).Compute(sha256: true, key, data, mac);
                break;
            case AuthAlgorithm.HmacSha256_128_HkdfSha256:
                Span<byte> derived = stackalloc byte[32];
                DeriveKey(key, nonce, purpose, derived);
                Hmac(sha256: true, derived, data, mac);
                CryptographicOperations.ZeroMemory(derived);
                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(algorithm), algorithm, "unknown authentication algorithm");
        }
    }

    // A site key is used for every message of the site: a keyed context per thread and key skips the key setup per message.
    [ThreadStatic]
    private static KeyedMacs? t_keyedMacs;

    /// <summary>
    /// HMAC (RFC 2104), for the per-message keys of algorithm 3, of a message up to <see cref="InlineHmacLimit"/> bytes as two one-shot digests over ipad ‖ message and
    /// opad ‖ inner hash. OpenSSL 3's one-shot HMAC builds a MAC context and both pads on every call, which costs more than
    /// the digests of a Map-Register themselves; longer messages go to the BCL's HMAC. Both give the same bytes.
    /// </summary>
    private static void Hmac(bool sha256, ReadOnlySpan<byte> key, ReadOnlySpan<byte> data, Span<byte> mac)
    {
        if (data.Length > InlineHmacLimit)
        {
            if (sha256) HMACSHA256.HashData(key, data, mac); else HMACSHA1.HashData(key, data, mac);
            return;
        }

        Span<byte> hashedKey = stackalloc byte[32];
        Span<byte> inner = stackalloc byte[HmacBlockSize + InlineHmacLimit];
        Span<byte> outer = stackalloc byte[HmacBlockSize + 32];
        try
        {
            scoped var keyBytes = key.Length > HmacBlockSize ? hashedKey[..Digest(sha256, key, hashedKey)] : key;
            for (var i = 0; i < HmacBlockSize; i++)
            {
                var k = i < keyBytes.Length ? keyBytes[i] : (byte)0;
                inner[i] = (byte)(k ^ 0x36);
                outer[i] = (byte)(k ^ 0x5C);
            }

            data.CopyTo(inner[HmacBlockSize..]);
            var innerLength = Digest(sha256, inner[..(HmacBlockSize + data.Length)], outer[HmacBlockSize..]);
            Digest(sha256, outer[..(HmacBlockSize + innerLength)], mac);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(hashedKey);
            CryptographicOperations.ZeroMemory(inner[..HmacBlockSize]);
            CryptographicOperations.ZeroMemory(outer);
        }
    }

    private static int Digest(bool sha256, ReadOnlySpan<byte> data, Span<byte> hash) =>
        sha256 ? SHA256.HashData(data, hash) : SHA1.HashData(data, hash);

    /// <summary>The per-message key of algorithm 3: HKDF-SHA256 with input key material nonce ‖ PSK and the purpose as info.</summary>
    public static void DeriveKey(ReadOnlySpan<byte> key, ulong nonce, AuthPurpose purpose, Span<byte> derived)
    {
        byte[]? rented = null;
        var ikmLength = 8 + key.Length;
        var ikm = ikmLength <= 512 ? stackalloc byte[ikmLength] : (rented = ArrayPool<byte>.Shared.Rent(ikmLength)).AsSpan(0, ikmLength);
        try
        {
            BinaryPrimitives.WriteUInt64BigEndian(ikm, nonce);
            key.CopyTo(ikm[8..]);
            var info = purpose switch
            {
                AuthPurpose.MapNotify => NotifyInfo,
                AuthPurpose.MapNotifyAck => NotifyAckInfo,
                _ => RegisterInfo,
            };
            HKDF.DeriveKey(HashAlgorithmName.SHA256, ikm, derived, ReadOnlySpan<byte>.Empty, info);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(ikm);
            if (rented is not null) ArrayPool<byte>.Shared.Return(rented);
        }
    }
}
