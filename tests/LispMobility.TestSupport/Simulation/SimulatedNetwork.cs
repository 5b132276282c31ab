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
    private readonly InMemoryWire _wire = new();

    public SimulatedNetwork()
    {
        _wire.Observe = (from, to, payload) =>
        {
            LispMessage.TryPeekType(payload, out var type);
            Log.Add((type, from, to, payload));
            return Drop(type, from, to, payload);
        };
    }

    /// <summary>Every datagram put on the wire, delivered or not: (type, from, to).</summary>
    public List<(LispMessageType Type, IPEndPoint From, IPEndPoint To, byte[] Payload)> Log { get; } = [];

    /// <summary>Datagrams for which this returns true are lost.</summary>
    public Func<LispMessageType, IPEndPoint, IPEndPoint, byte[], bool> Drop { get; set; } = (_, _, _, _) => false;

    public void Attach(IPEndPoint endpoint, IDatagramEngine engine) => _wire.Attach(endpoint, engine);

    /// <summary>The node at <paramref name="endpoint"/> is gone (stopped, crashed): what is sent there is lost.</summary>
    public void Detach(IPEndPoint endpoint) => _wire.Detach(endpoint);

    /// <summary>Delivers what an API call on the engine at <paramref name="from"/> queued, and everything that follows.</summary>
    public void Send(IPEndPoint from, DatagramList queued) => _wire.Send(from, queued);

    /// <summary>Runs every engine's timers once (after the clock moved) and delivers what they sent.</summary>
    public void Tick() => _wire.Tick();

    /// <summary>Runs <paramref name="call"/> on the engine at <paramref name="at"/> with a fresh sink, then delivers.</summary>
    public T Call<T>(IPEndPoint at, Func<IDatagramSink, T> call) => _wire.Call(at, call);

    public int Count(LispMessageType type, IPEndPoint? from = null, IPEndPoint? to = null)
    {
        lock (_wire.Gate) return Log.Count(l => l.Type == type && (from is null || l.From.Equals(from)) && (to is null || l.To.Equals(to)));
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
