using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;
using LispMobility.Lisp.Auth;
using LispMobility.Lisp.Messages;

namespace LispMobility.Lisp.Tests;

/// <summary>HMAC known answers (RFC 2202, RFC 4231, RFC 5869) and the Map-Register / Map-Notify authentication built on them.</summary>
public sealed class AuthenticationTests
{
    public static TheoryData<string, string, string, string> HmacVectors => new()
    {
        // RFC 2202 §3, HMAC-SHA-1 test cases 1, 2, 3, 6.
        { "SHA1", "0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b", Hex("Hi There"), "b617318655057264e28bc0b6fb378c8ef146be00" },
        { "SHA1", Hex("Jefe"), Hex("what do ya want for nothing?"), "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79" },
        { "SHA1", new string('a', 40), string.Concat(Enumerable.Repeat("dd", 50)), "125d7342b9ac11cd91a39af48aa17b4f63f175d3" },
        { "SHA1", string.Concat(Enumerable.Repeat("aa", 80)), Hex("Test Using Larger Than Block-Size Key - Hash Key First"), "aa4ae5e15272d00e95705637ce8a3b55ed402112" },
        // RFC 4231 §4, HMAC-SHA-256 test cases 1, 2, 3, 6, and 5 (truncated to 128 bits).
        { "SHA256", "0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b", Hex("Hi There"), "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7" },
        { "SHA256", Hex("Jefe"), Hex("what do ya want for nothing?"), "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843" },
        { "SHA256", new string('a', 40), string.Concat(Enumerable.Repeat("dd", 50)), "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe" },
        { "SHA256", string.Concat(Enumerable.Repeat("aa", 131)), Hex("Test Using Larger Than Block-Size Key - Hash Key First"), "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54" },
        { "SHA256", string.Concat(Enumerable.Repeat("0c", 20)), Hex("Test With Truncation"), "a3b6167473100ee06e0c796c2955552b" },
    };

    [Theory]
    [MemberData(nameof(HmacVectors))]
    public void Reference_hmac_matches_the_rfc_vectors(string hash, string key, string data, string expected)
    {
        var mac = HmacReference.Hmac(new HashAlgorithmName(hash), Convert.FromHexString(key), Convert.FromHexString(data));
        Assert.Equal(expected, Convert.ToHexStringLower(mac)[..expected.Length]);
    }

    [Fact]
    public void Reference_hkdf_matches_rfc_5869_case_3()
    {
        var okm = HmacReference.Hkdf256(Enumerable.Repeat((byte)0x0b, 22).ToArray(), [], [], 42);
        Assert.Equal("8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8", Convert.ToHexStringLower(okm));
    }

    [Theory]
    [InlineData(AuthAlgorithm.HmacSha1_96, false, 20)]
    [InlineData(AuthAlgorithm.HmacSha1_96, true, 12)]
    [InlineData(AuthAlgorithm.HmacSha256_128, false, 32)]
    [InlineData(AuthAlgorithm.HmacSha256_128, true, 16)]
    public void Map_register_mac_is_the_hmac_of_the_message_with_the_field_zeroed(AuthAlgorithm algorithm, bool truncate, int length)
    {
        var register = Samples.Register(algorithm) with { TruncateMac = truncate };
        var signed = register.ToSignedArray(Samples.Key);
        var unsigned = register.ToArray();
        Assert.Equal(length, BinaryPrimitives.ReadUInt16BigEndian(signed.AsSpan(14)));
        Assert.True(unsigned.AsSpan(16, length).IndexOfAnyExcept((byte)0) < 0);

        var hash = algorithm == AuthAlgorithm.HmacSha1_96 ? HashAlgorithmName.SHA1 : HashAlgorithmName.SHA256;
        var expected = HmacReference.Hmac(hash, Samples.Key, unsigned)[..length];
        Assert.Equal(Convert.ToHexString(expected), Convert.ToHexString(signed, 16, length));
        Assert.Equal(unsigned[..16], signed[..16]);
        Assert.Equal(unsigned[(16 + length)..], signed[(16 + length)..]);
    }

    [Theory]
    [InlineData(AuthPurpose.MapRegister, "Map-Register Authentication")]
    [InlineData(AuthPurpose.MapNotify, "Map-Notify Authentication")]
    [InlineData(AuthPurpose.MapNotifyAck, "Map-Notify-Ack Authentication")]
    public void Algorithm_3_keys_the_hmac_with_hkdf_of_nonce_and_psk(AuthPurpose purpose, string info)
    {
        AuthenticatedMessage message = purpose switch
        {
            AuthPurpose.MapRegister => Samples.Register(AuthAlgorithm.HmacSha256_128_HkdfSha256),
            AuthPurpose.MapNotify => Samples.Notify() with { Algorithm = AuthAlgorithm.HmacSha256_128_HkdfSha256 },
            _ => Samples.NotifyAck() with { Algorithm = AuthAlgorithm.HmacSha256_128_HkdfSha256 },
        };
        var ikm = new byte[8 + Samples.Key.Length];
        BinaryPrimitives.WriteUInt64BigEndian(ikm, message.Nonce);
        Samples.Key.CopyTo(ikm, 8);
        var derived = HmacReference.Hkdf256(ikm, [], Encoding.ASCII.GetBytes(info), 32);

        var libraryKey = new byte[32];
        LispAuthentication.DeriveKey(Samples.Key, message.Nonce, purpose, libraryKey);
        Assert.Equal(derived, libraryKey);

        var signed = message.ToSignedArray(Samples.Key);
        var expected = HmacReference.Hmac(HashAlgorithmName.SHA256, derived, message.ToArray());
        Assert.Equal(expected, signed[16..48]);
        Assert.True(LispAuthentication.Verify(signed, 16, 32, AuthAlgorithm.HmacSha256_128_HkdfSha256, Samples.Key, message.Nonce, purpose));

        // The purpose is part of the key: a Map-Notify MAC does not verify as a Map-Register's.
        var other = purpose == AuthPurpose.MapRegister ? AuthPurpose.MapNotify : AuthPurpose.MapRegister;
        Assert.False(LispAuthentication.Verify(signed, 16, 32, AuthAlgorithm.HmacSha256_128_HkdfSha256, Samples.Key, message.Nonce, other));
    }

    [Theory]
    [InlineData(AuthAlgorithm.HmacSha1_96, false)]
    [InlineData(AuthAlgorithm.HmacSha1_96, true)]
    [InlineData(AuthAlgorithm.HmacSha256_128, false)]
    [InlineData(AuthAlgorithm.HmacSha256_128, true)]
    [InlineData(AuthAlgorithm.HmacSha256_128_HkdfSha256, false)]
    [InlineData(AuthAlgorithm.HmacSha256_128_HkdfSha256, true)]
    public void Verify_accepts_the_right_key_and_rejects_a_wrong_key_and_every_flipped_bit(AuthAlgorithm algorithm, bool truncate)
    {
        var signed = (Samples.Register(algorithm) with { TruncateMac = truncate }).ToSignedArray(Samples.Key);
        Assert.True(Verify(signed, Samples.Key));
        Assert.False(Verify(signed, "lisp-site-kez"u8.ToArray()));
        Assert.False(Verify(signed, []));

        for (var bit = 0; bit < signed.Length * 8; bit++)
        {
            var copy = (byte[])signed.Clone();
            copy[bit / 8] ^= (byte)(0x80 >> (bit % 8));
            Assert.False(Verify(copy, Samples.Key), $"a flip of bit {bit} still verified");
        }
    }

    [Theory]
    [InlineData(AuthAlgorithm.HmacSha1_96, 12, true)]
    [InlineData(AuthAlgorithm.HmacSha1_96, 20, true)]
    [InlineData(AuthAlgorithm.HmacSha1_96, 16, false)]
    [InlineData(AuthAlgorithm.HmacSha1_96, 32, false)]
    [InlineData(AuthAlgorithm.HmacSha1_96, 0, false)]
    [InlineData(AuthAlgorithm.HmacSha256_128, 16, true)]
    [InlineData(AuthAlgorithm.HmacSha256_128, 32, true)]
    [InlineData(AuthAlgorithm.HmacSha256_128, 12, false)]
    [InlineData(AuthAlgorithm.HmacSha256_128, 20, false)]
    [InlineData(AuthAlgorithm.HmacSha256_128_HkdfSha256, 16, true)]
    [InlineData(AuthAlgorithm.HmacSha256_128_HkdfSha256, 32, true)]
    [InlineData(AuthAlgorithm.HmacSha256_128_HkdfSha256, 20, false)]
    [InlineData(AuthAlgorithm.None, 0, true)]
    [InlineData(AuthAlgorithm.None, 12, false)]
    public void Declared_mac_length_must_be_the_full_or_truncated_size(AuthAlgorithm algorithm, int length, bool accepted)
    {
        // Written as algorithm 0 so that any declared length can be built, then relabelled.
        var bytes = (Samples.SimpleRegister() with { Algorithm = AuthAlgorithm.None, AuthenticationData = new byte[length] }).ToArray();
        bytes[13] = (byte)algorithm;
        Assert.Equal(length, BinaryPrimitives.ReadUInt16BigEndian(bytes.AsSpan(14)));
        var ok = MapRegister.TryReadView(bytes, out _, out var error);
        Assert.Equal(accepted, ok);
        if (!accepted && algorithm != AuthAlgorithm.None)
        {
            Assert.Equal(LispErrorKind.Invalid, error.Kind);
            Assert.Equal("Authentication Data Length", error.Field);
            Assert.Equal(14, error.Offset);
        }

        Assert.Equal(accepted, LispAuthentication.IsAcceptedLength(algorithm, length));
    }

    [Fact]
    public void Full_length_is_the_default_and_what_a_peer_receives()
    {
        Assert.Equal(32, Samples.SimpleRegister().AuthenticationLength);
        Assert.Equal(20, (Samples.SimpleRegister() with { Algorithm = AuthAlgorithm.HmacSha1_96 }).AuthenticationLength);
        Assert.Equal(16, (Samples.SimpleRegister() with { TruncateMac = true }).AuthenticationLength);
    }

    [Fact]
    public void Signed_map_notify_and_ack_verify_with_their_own_purpose()
    {
        var notify = Samples.Notify().ToSignedArray(Samples.Key);
        Assert.True(MapNotify.TryReadView(notify, out var nv, out _));
        Assert.True(nv.VerifyAuthentication(Samples.Key, AuthPurpose.MapNotify));
        var ack = Samples.NotifyAck().ToSignedArray(Samples.Key);
        Assert.True(MapNotifyAck.TryReadView(ack, out var av, out _));
        Assert.True(av.VerifyAuthentication(Samples.Key, AuthPurpose.MapNotifyAck));
        Assert.Equal(nv.Nonce, av.Nonce);
    }

    [Fact]
    public void Verify_rejects_offsets_and_lengths_outside_the_message()
    {
        var signed = Samples.SimpleRegister().ToSignedArray(Samples.Key);
        Assert.False(LispAuthentication.Verify(signed, signed.Length - 8, 32, AuthAlgorithm.HmacSha256_128, Samples.Key, 0, AuthPurpose.MapRegister));
        Assert.False(LispAuthentication.Verify(signed, -1, 32, AuthAlgorithm.HmacSha256_128, Samples.Key, 0, AuthPurpose.MapRegister));
        Assert.False(LispAuthentication.Verify(signed, 16, 32, (AuthAlgorithm)9, Samples.Key, 0, AuthPurpose.MapRegister));
        Assert.False(LispAuthentication.Verify(signed, 16, 32, AuthAlgorithm.None, Samples.Key, 0, AuthPurpose.MapRegister));
    }

    [Theory]
    [InlineData(AuthAlgorithm.HmacSha1_96)]
    [InlineData(AuthAlgorithm.HmacSha256_128)]
    public void Mac_equals_the_bcl_hmac_for_any_key_and_message_length(AuthAlgorithm algorithm)
    {
        // Keys around the 64-byte block size, messages around the library's inline limit and far beyond it.
        var random = new Random(4231);
        int[] keyLengths = [0, 1, 20, 63, 64, 65, 131, 300];
        int[] messageLengths = [48, 100, 1023, 1024, 1025, 1040, 1041, 4000, 9000];
        foreach (var keyLength in keyLengths)
        {
            foreach (var messageLength in messageLengths)
            {
                var key = new byte[keyLength];
                random.NextBytes(key);
                var message = new byte[messageLength];
                random.NextBytes(message);
                var full = LispAuthentication.FullLength(algorithm);
                message.AsSpan(16, full).Clear();
                var signed = (byte[])message.Clone();
                LispAuthentication.Sign(signed, 16, full, algorithm, key, 0, AuthPurpose.MapRegister);

                var expected = algorithm == AuthAlgorithm.HmacSha1_96 ? HMACSHA1.HashData(key, message) : HMACSHA256.HashData(key, message);
                Assert.True(expected.AsSpan().SequenceEqual(signed.AsSpan(16, full)), $"key {keyLength} B, message {messageLength} B");
                Assert.True(LispAuthentication.Verify(signed, 16, full, algorithm, key, 0, AuthPurpose.MapRegister));
            }
        }
    }

    private static bool Verify(byte[] bytes, byte[] key) =>
        MapRegister.TryReadView(bytes, out var view, out _) && view.VerifyAuthentication(key, AuthPurpose.MapRegister);

    private static string Hex(string ascii) => Convert.ToHexString(Encoding.ASCII.GetBytes(ascii));
}
