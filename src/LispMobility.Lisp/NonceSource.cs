using System.Security.Cryptography;

namespace LispMobility.Lisp;

/// <summary>Where nonces come from; injectable so that tests can predict them.</summary>
public abstract class NonceSource
{
    /// <summary>Cryptographically random nonces (Map-Request, SMR, unsolicited Map-Notify).</summary>
    public static NonceSource Random { get; } = new RandomNonces();

    /// <summary>The next nonce.</summary>
    public abstract ulong Next();

    /// <summary>
    /// Nonces that only ever increase, for Map-Register, where the Map-Server drops a nonce not greater
    /// than the last one it saw (replay protection). Seeded from the wall clock so that a restarted
    /// xTR does not start below its previous run.
    /// </summary>
    public static NonceSource Increasing(TimeProvider time)
    {
        ArgumentNullException.ThrowIfNull(time);
        return new IncreasingNonces((ulong)time.GetUtcNow().ToUnixTimeMilliseconds() << 20);
    }

    private sealed class RandomNonces : NonceSource
    {
        public override ulong Next()
        {
            Span<byte> b = stackalloc byte[8];
            RandomNumberGenerator.Fill(b);
            return BitConverter.ToUInt64(b);
        }
    }

    private sealed class IncreasingNonces(ulong start) : NonceSource
    {
        private long _last = (long)start;

        public override ulong Next() => (ulong)Interlocked.Increment(ref _last);
    }
}
