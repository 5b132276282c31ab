using System.Net;

namespace LispMobility.Platform;

/// <summary>A datagram an engine wants sent, and where to.</summary>
public readonly record struct OutgoingDatagram(ReadOnlyMemory<byte> Payload, IPEndPoint Destination);

/// <summary>Where engines put what they want sent; the transport drains it after each call.</summary>
public interface IDatagramSink
{
    /// <summary>Queues one datagram.</summary>
    void Send(ReadOnlyMemory<byte> payload, IPEndPoint destination);
}

/// <summary>A sink that collects datagrams in a list (engines in tests, and the transport between calls).</summary>
public sealed class DatagramList : IDatagramSink
{
    private readonly List<OutgoingDatagram> _items = [];

    /// <summary>What was queued, in order.</summary>
    public IReadOnlyList<OutgoingDatagram> Items => _items;

    /// <inheritdoc />
    public void Send(ReadOnlyMemory<byte> payload, IPEndPoint destination) => _items.Add(new OutgoingDatagram(payload, destination));

    /// <summary>Forgets everything queued.</summary>
    public void Clear() => _items.Clear();
}

/// <summary>A protocol engine driven by datagrams and time (sans-I/O).</summary>
public interface IDatagramEngine
{
    /// <summary>Handles one received datagram. Must not throw on any content.</summary>
    void Receive(ReadOnlySpan<byte> datagram, IPEndPoint source, IDatagramSink sink);

    /// <summary>Runs what is due at the engine's current time; returns the delay until the next timer, or null for none.</summary>
    TimeSpan? OnTimer(IDatagramSink sink);
}
