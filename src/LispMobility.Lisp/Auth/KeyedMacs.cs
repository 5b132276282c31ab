using System.Security.Cryptography;

namespace LispMobility.Lisp.Auth;

/// <summary>
/// One thread's keyed HMAC contexts for the last few (algorithm, key) pairs it used. A context keeps the padded key
/// states computed once, so each MAC is only the digests of the message: about half the cost of building the MAC
/// from two one-shot digests (and a third of OpenSSL's one-shot HMAC) for a Map-Register. Not thread-safe: one per thread.
/// </summary>
internal sealed class KeyedMacs
{
    // A Map-Server thread sees the keys of the sites registering through it; a handful covers a burst of one site.
    private const int Capacity = 8;
    private readonly Entry?[] _entries = new Entry?[Capacity];
    private int _next;

    /// <summary>Writes HMAC-SHA-256 (or HMAC-SHA-1) of <paramref name="data"/> under <paramref name="key"/> to <paramref name="mac"/>.</summary>
    public void Compute(bool sha256, ReadOnlySpan<byte> key, ReadOnlySpan<byte> data, Span<byte> mac)
    {
        var index = Find(sha256, key);
        var entry = _entries[index]!;
        try
        {
            entry.Mac.AppendData(data);
            entry.Mac.GetHashAndReset(mac);
        }
        catch
        {
            // A context that failed half-way may hold part of a message: never reuse it.
            Evict(index);
            throw;
        }
    }

    private int Find(bool sha256, ReadOnlySpan<byte> key)
    {
        for (var i = 0; i < Capacity; i++)
        {
            if (_entries[i] is { } e && e.Sha256 == sha256 && key.SequenceEqual(e.Key)) return i;
        }

        var slot = _next;
        _next = (_next + 1) % Capacity;
        Evict(slot);
        _entries[slot] = new Entry(sha256, key.ToArray(), IncrementalHash.CreateHMAC(sha256 ? HashAlgorithmName.SHA256 : HashAlgorithmName.SHA1, key));
        return slot;
    }

    private void Evict(int index)
    {
        if (_entries[index] is not { } e) return;
        _entries[index] = null;
        e.Mac.Dispose();
        CryptographicOperations.ZeroMemory(e.Key);
    }

    private sealed record Entry(bool Sha256, byte[] Key, IncrementalHash Mac);
}
