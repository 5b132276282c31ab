using System.Security.Cryptography;
using System.Text;
using LispMobility.Lisp.Auth;

namespace LispMobility.MappingSystem.Tests;

/// <summary>The per-thread keyed HMAC contexts behind Map-Register and Map-Notify authentication give the BCL's MACs whatever the key order.</summary>
public sealed class KeyedMacTests
{
    [Fact]
    public async Task Macs_equal_the_bcl_hmac_across_threads_algorithms_and_more_keys_than_a_thread_keeps()
    {
        // 12 keys (more than the 8 contexts a thread keeps, so contexts are evicted and rebuilt), short and longer than a block.
        var keys = Enumerable.Range(0, 12).Select(i => Encoding.UTF8.GetBytes(new string((char)('a' + i), i < 6 ? 8 + i : 70 + i))).ToArray();
        var failures = await Task.WhenAll(Enumerable.Range(0, 4).Select(t => Task.Run(() =>
        {
            var random = new Random(t);
            var bad = 0;
            for (var i = 0; i < 3000; i++)
            {
                var key = keys[random.Next(keys.Length)];
                var sha256 = random.Next(2) == 0;
                var algorithm = sha256 ? AuthAlgorithm.HmacSha256_128 : AuthAlgorithm.HmacSha1_96;
                var length = LispAuthentication.FullLength(algorithm);
                var message = new byte[16 + length + random.Next(0, 1500)];
                random.NextBytes(message);
                message.AsSpan(16, length).Clear();
                var expected = sha256 ? HMACSHA256.HashData(key, message) : HMACSHA1.HashData(key, message);

                LispAuthentication.Sign(message, 16, length, algorithm, key, nonce: (ulong)i, AuthPurpose.MapRegister);

                if (!message.AsSpan(16, length).SequenceEqual(expected)) bad++;
                if (!LispAuthentication.Verify(message, 16, length, algorithm, key, (ulong)i, AuthPurpose.MapRegister)) bad++;
                var other = keys[(Array.IndexOf(keys, key) + 1) % keys.Length];
                if (LispAuthentication.Verify(message, 16, length, algorithm, other, (ulong)i, AuthPurpose.MapRegister)) bad++;
            }

            return bad;
        })));

        Assert.All(failures, f => Assert.Equal(0, f));
    }
}
