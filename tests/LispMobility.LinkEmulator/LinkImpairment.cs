namespace LispMobility.LinkEmulator;

/// <summary>
/// The impairment itself, without I/O: a packet is dropped at once with the loss probability, or held and released
/// after the delay. The delay is the same for every packet, so a FIFO is already in due order and nothing is reordered
/// (as netem without jitter). Not thread-safe: the emulator calls it under one lock.
/// </summary>
public sealed class LinkImpairment(TimeSpan delay, double lossPercent, Random random)
{
    private readonly Queue<(uint PacketId, TimeSpan Due)> _held = new();

    /// <summary>Packets held now.</summary>
    public int Held => _held.Count;

    /// <summary>Decides a packet that arrived at <paramref name="now"/>: false to drop it now, true when it is held.</summary>
    public bool Admit(uint packetId, TimeSpan now)
    {
        if (lossPercent > 0 && random.NextDouble() * 100 < lossPercent) return false;
        _held.Enqueue((packetId, now + delay));
        return true;
    }

    /// <summary>Appends the packets due at <paramref name="now"/>, oldest first; returns when the next one is due, or null.</summary>
    public TimeSpan? Release(TimeSpan now, List<uint> due)
    {
        while (_held.TryPeek(out var head))
        {
            if (head.Due > now) return head.Due;
            due.Add(_held.Dequeue().PacketId);
        }

        return null;
    }
}
