using System.Security.Cryptography;

namespace LispMobility.Lisp.Tests;

/// <summary>
/// HMAC (RFC 2104) and HKDF (RFC 5869) built here from the bare hash functions, so that the library's
/// MACs are checked against a computation that shares none of its code paths.
/// </summary>
internal static class HmacReference
{
    public static byte[] Hmac(HashAlgorithmName hash, byte[] key, byte[] data)
    {
        Func<byte[], byte[]> h = hash == HashAlgorithmName.SHA1 ? SHA1.HashData : SHA256.HashData;
        const int block = 64;
        if (key.Length > block) key = h(key);
        var padded = new byte[block];
        key.CopyTo(padded, 0);
        var inner = padded.Select(b => (byte)(b ^ 0x36)).Concat(data).ToArray();
        var outer = padded.Select(b => (byte)(b ^ 0x5C)).Concat(h(inner)).ToArray();
        return h(outer);
    }

    public static byte[] Hkdf256(byte[] ikm, byte[] salt, byte[] info, int length)
    {
        var prk = Hmac(HashAlgorithmName.SHA256, salt.Length == 0 ? new byte[32] : salt, ikm);
        var okm = new List<byte>();
        var previous = Array.Empty<byte>();
        for (byte i = 1; okm.Count < length; i++)
        {
            previous = Hmac(HashAlgorithmName.SHA256, prk, [.. previous, .. info, i]);
            okm.AddRange(previous);
        }

        return okm.Take(length).ToArray();
    }
}
