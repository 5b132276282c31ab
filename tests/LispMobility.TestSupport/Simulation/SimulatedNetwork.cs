using System.Net;
using LispMobility.Lisp.Messages;
using LispMobility.Platform;

namespace LispMobility.TestSupport.Simulation;

/// <summary>
/// Real sans-I/O engines (xTRs, the Map-Server) joined by an in-memory wire: what one engine queues is delivered
/// to the engine bound at the destination, with the sender's endpoint as source, until nothing is in flight.
/// Time is the test's <see cref="Microsoft.Extensions.Time.Testing.FakeTimeProvider"/>; <see cref="Drop"/> loses datagrams on purpose.
/// One call at a time: a domain that calls several engines from parallel tasks sees each call and what follows it as one step.
/// </summary>
public sealed class SimulatedNetwork
{
    private readonly Dictionary<IPEndPoint, IDatagramEngine> _nodes = [];
    private readonly object _gate = new();

    /// <summary>Every datagram put on the wire, delivered or not: (type, from, to).</summary>
    public List<(LispMessageType Type, IPEndPoint From, IPEndPoint To, byte[] Payload)> Log { get; } = [];

    /// <summary>Datagrams for which this returns true are lost.</summary>
    public Func<LispMessageType, IPEndPoint, IPEndPoint, byte[], bool> Drop { get; set; } = (_, _, _, _) => false;

    public void Attach(IPEndPoint endpoint, IDatagramEngine engine)
    {
        lock (_gate) _nodes[endpoint] = engine;
    }

    /// <summary>The node at <paramref name="endpoint"/> is gone (stopped, crashed): what is sent there is lost.</summary>
    public void Detach(IPEndPoint endpoint)
    {
        lock (_gate) _nodes.Remove(endpoint);
    }

    /// <summary>Delivers what an API call on the engine at <paramref name="from"/> queued, and everything that follows.</summary>
    public void Send(IPEndPoint from, DatagramList queued)
    {
        lock (_gate) Deliver(from, queued);
    }

    private void Deliver(IPEndPoint from, DatagramList queued)
    {
        var wire = new Queue<(IPEndPoint, OutgoingDatagram)>();
        foreach (var d in queued.Items) wire.Enqueue((from, d));
        queued.Clear();
        while (wire.TryDequeue(out var next))
        {
            var (source, d) = next;
            var payload = d.Payload.ToArray();
            LispMessage.TryPeekType(payload, out var type);
            Log.Add((type, source, d.Destination, payload));
            if (Drop(type, source, d.Destination, payload) || !_nodes.TryGetValue(d.Destination, out var engine)) continue;
            var replies = new DatagramList();
            engine.Receive(payload, source, replies);
            foreach (var r in replies.Items) wire.Enqueue((d.Destination, r));
        }
    }

    /// <summary>Runs every engine's timers once (after the clock moved) and delivers what they sent.</summary>
    public void Tick()
    {
        lock (_gate)
        {
            foreach (var (endpoint, engine) in _nodes.ToList())
            {
                var queued = new DatagramList();
                engine.OnTimer(queued);
                Deliver(endpoint, queued);
            }
        }
    }

    /// <summary>Runs <paramref name="call"/> on the engine at <paramref name="at"/> with a fresh sink, then delivers.</summary>
    public T Call<T>(IPEndPoint at, Func<IDatagramSink, T> call)
    {
        lock (_gate)
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

    public int Count(LispMessageType type, IPEndPoint? from = null, IPEndPoint? to = null)
    {
        lock (_gate) return Log.Count(l => l.Type == type && (from is null || l.From.Equals(from)) && (to is null || l.To.Equals(to)));
    }

    /// <summary>Map-Registers (or Map-Notifies) that carry exactly one host (/32, /128) record: host registrations, not the periodic database.</summary>
    public int CountHostOnly(LispMessageType type, IPEndPoint? from = null, IPEndPoint? to = null) =>
        Log.Count(l => l.Type == type && (from is null || l.From.Equals(from)) && (to is null || l.To.Equals(to)) && IsHostOnly(l.Payload));

    public static bool IsHostOnly(byte[] payload) =>
        LispMessage.TryPeekType(payload, out var type) && type switch
        {
            LispMessageType.MapRegister => MapRegister.TryRead(payload, out var r, out _) && r.Records is [{ Eid.IsHost: true }],
            LispMessageType.MapNotify => MapNotify.TryRead(payload, out var n, out _) && n.Records is [{ Eid.IsHost: true }],
            _ => false,
        };
}
