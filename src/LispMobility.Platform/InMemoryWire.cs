using System.Net;

namespace LispMobility.Platform;

/// <summary>
/// Sans-I/O engines joined in memory: what one engine queues is delivered to the engine bound at the destination, with the
/// sender's endpoint as source, until nothing is in flight. One delivery at a time (under <see cref="Gate"/>). The agent's
/// warm-up runs the move path on it; the tests' simulated network records and loses datagrams through <see cref="Observe"/>.
/// </summary>
public sealed class InMemoryWire(int maxDeliveriesPerCall = int.MaxValue)
{
    private readonly Dictionary<IPEndPoint, IDatagramEngine> _nodes = [];

    /// <summary>Held while datagrams are delivered; an observer's records are consistent under it.</summary>
    public Lock Gate { get; } = new();

    /// <summary>Sees every datagram put on the wire (from, to, payload) before delivery; true loses it.</summary>
    public Func<IPEndPoint, IPEndPoint, byte[], bool>? Observe { get; set; }

    /// <summary>Binds <paramref name="engine"/> at <paramref name="endpoint"/>.</summary>
    public void Attach(IPEndPoint endpoint, IDatagramEngine engine)
    {
        lock (Gate) _nodes[endpoint] = engine;
    }

    /// <summary>The node at <paramref name="endpoint"/> is gone: what is sent there is lost.</summary>
    public void Detach(IPEndPoint endpoint)
    {
        lock (Gate) _nodes.Remove(endpoint);
    }

    /// <summary>Runs <paramref name="call"/> on the engine at <paramref name="at"/> with a fresh sink, then delivers what it queued.</summary>
    public T Call<T>(IPEndPoint at, Func<IDatagramSink, T> call)
    {
        ArgumentNullException.ThrowIfNull(call);
        lock (Gate)
        {
            var queued = new DatagramList();
            try
            {
                return call(queued);
            }
            finally
            {
                Deliver(at, queued);
            }
        }
    }

    /// <summary>Delivers what an API call on the engine at <paramref name="from"/> queued, and everything that follows.</summary>
    public void Send(IPEndPoint from, DatagramList queued)
    {
        ArgumentNullException.ThrowIfNull(queued);
        lock (Gate) Deliver(from, queued);
    }

    /// <summary>Runs every engine's timers once and delivers what they sent.</summary>
    public void Tick()
    {
        lock (Gate)
        {
            foreach (var (endpoint, engine) in _nodes.ToList())
            {
                var queued = new DatagramList();
                engine.OnTimer(queued);
                Deliver(endpoint, queued);
            }
        }
    }

    private void Deliver(IPEndPoint from, DatagramList queued)
    {
        var wire = new Queue<(IPEndPoint From, OutgoingDatagram Datagram)>();
        foreach (var d in queued.Items) wire.Enqueue((from, d));
        queued.Clear();
        for (var n = 0; n < maxDeliveriesPerCall && wire.TryDequeue(out var next); n++)
        {
            var (source, d) = next;
            var payload = d.Payload.ToArray();
            if (Observe?.Invoke(source, d.Destination, payload) == true || !_nodes.TryGetValue(d.Destination, out var engine)) continue;
            var replies = new DatagramList();
            engine.Receive(payload, source, replies);
            foreach (var r in replies.Items) wire.Enqueue((d.Destination, r));
        }
    }
}
