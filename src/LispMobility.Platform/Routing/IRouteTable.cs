using System.Net;

namespace LispMobility.Platform.Routing;

/// <summary>What a host route does with traffic to its address.</summary>
public enum HostRouteKind
{
    /// <summary>Deliver to the VM-facing interface: the host is here.</summary>
    Local,
    /// <summary>Drop (null0): the host has moved away and traffic must not be attracted here.</summary>
    Blackhole,
}

/// <summary>A /32 or /128 route the xTR owns.</summary>
public sealed record HostRoute(IPAddress Address, HostRouteKind Kind, string? Interface);

/// <summary>
/// The host's routing table, as far as the xTR touches it: host routes tagged with our own route
/// protocol number, so that what a crashed run left behind can be found and removed.
/// </summary>
public interface IRouteTable
{
    /// <summary>Installs (or replaces) the route of <paramref name="route"/>'s address.</summary>
    void Set(HostRoute route);

    /// <summary>Removes our route for <paramref name="address"/>; nothing when there is none.</summary>
    void Remove(IPAddress address);

    /// <summary>Every route we own.</summary>
    IReadOnlyList<HostRoute> List();

    /// <summary>Removes every route we own (startup after a crash, and shutdown); the routes it removed.</summary>
    IReadOnlyList<HostRoute> RemoveAll();

    /// <summary>
    /// Applies <paramref name="batch"/> in order, each change on its own: one that fails does not stop the others.
    /// Returns the failure of each change (null where it worked). A table that can send many requests at once (rtnetlink)
    /// does so; this default applies them one by one.
    /// </summary>
    RouteTableException?[] Apply(IReadOnlyList<RouteChange> batch)
    {
        ArgumentNullException.ThrowIfNull(batch);
        var failures = new RouteTableException?[batch.Count];
        for (var i = 0; i < batch.Count; i++)
        {
            try
            {
                batch[i].ApplyTo(this);
            }
            catch (RouteTableException e)
            {
                failures[i] = e;
            }
        }

        return failures;
    }
}

/// <summary>Failure to program the routing table, with the operation and the system's reason.</summary>
/// <param name="message">The operation and the reason.</param>
/// <param name="inner">The system's error.</param>
/// <param name="transient">True when trying again may work (the kernel was busy or out of buffers, or did not answer in time).</param>
public sealed class RouteTableException(string message, Exception? inner = null, bool transient = false) : Exception(message, inner)
{
    /// <summary>True when trying again may work.</summary>
    public bool Transient { get; } = transient;
}

/// <summary>
/// An in-memory route table (tests, the lab, and hosts where routes are not programmed). As an <see cref="IRouteChangeSink"/>
/// it applies an engine's changes at once, which is what a sans-I/O test of the engine wants to read back.
/// </summary>
public sealed class InMemoryRouteTable : IRouteTable, IRouteChangeSink
{
    private readonly Dictionary<IPAddress, HostRoute> _routes = [];
    private readonly object _gate = new();

    /// <inheritdoc />
    public void Set(HostRoute route)
    {
        ArgumentNullException.ThrowIfNull(route);
        lock (_gate) { _routes[route.Address] = route; }
    }

    /// <inheritdoc />
    public void Remove(IPAddress address)
    {
        lock (_gate) { _routes.Remove(address); }
    }

    /// <inheritdoc />
    public IReadOnlyList<HostRoute> List()
    {
        lock (_gate) { return _routes.Values.ToList(); }
    }

    /// <inheritdoc />
    public IReadOnlyList<HostRoute> RemoveAll()
    {
        lock (_gate)
        {
            var removed = _routes.Values.ToList();
            _routes.Clear();
            return removed;
        }
    }

    /// <inheritdoc />
    public void Enqueue(RouteChange change) => change.ApplyTo(this);

    /// <summary>The route of <paramref name="address"/>, if any.</summary>
    public HostRoute? Get(IPAddress address)
    {
        lock (_gate) { return _routes.GetValueOrDefault(address); }
    }
}
