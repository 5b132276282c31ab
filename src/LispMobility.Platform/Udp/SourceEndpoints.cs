using System.Net;
using System.Net.Sockets;

namespace LispMobility.Platform;

/// <summary>
/// The sender endpoints a receive loop has seen, by their sockaddr bytes: an engine keeps the endpoint it is given, so a
/// registrant's many registrations share one <see cref="IPEndPoint"/> instead of one per datagram. Owned by one loop.
/// </summary>
internal sealed class SourceEndpoints(AddressFamily family)
{
    private const int MaxCached = 4096;
    private readonly Dictionary<SocketAddress, IPEndPoint> _known = [];
    private readonly SocketAddress _lookup = new(family);
    private readonly EndPoint _template = family == AddressFamily.InterNetworkV6 ? new IPEndPoint(IPAddress.IPv6Any, 0) : new IPEndPoint(IPAddress.Any, 0);

    /// <summary>sizeof(sockaddr_in6) or sizeof(sockaddr_in): anything shorter is no sender.</summary>
    public int MinimumSize { get; } = family == AddressFamily.InterNetworkV6 ? 28 : 16;

    /// <summary>The endpoint of a kernel sockaddr, or null when the bytes are too short or too long to be one of this family.</summary>
    public IPEndPoint? Get(ReadOnlySpan<byte> sockaddr)
    {
        if (sockaddr.Length < MinimumSize || sockaddr.Length > _lookup.Buffer.Length) return null;
        sockaddr.CopyTo(_lookup.Buffer.Span);
        _lookup.Size = sockaddr.Length;
        if (_known.TryGetValue(_lookup, out var source)) return source;
        if (_known.Count >= MaxCached) _known.Clear();
        source = (IPEndPoint)_template.Create(_lookup);
        var key = new SocketAddress(family, sockaddr.Length);
        sockaddr.CopyTo(key.Buffer.Span);
        _known[key] = source;
        return source;
    }
}
