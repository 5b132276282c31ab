using System.Net;

namespace LispMobility.Platform.Routing;

/// <summary>What a route change does to the host route of its address.</summary>
public enum RouteChangeKind
{
    /// <summary>Install (or replace) a route to the VM-facing interface: the host is here.</summary>
    HostRoute,
    /// <summary>Install (or replace) a blackhole: the host moved away and traffic must not be attracted here.</summary>
    Blackhole,
    /// <summary>Remove our route for the address, if there is one.</summary>
    Remove,
}

/// <summary>One change to the host routes the xTR owns: an output of the protocol engine, applied by the shell.</summary>
public readonly record struct RouteChange(RouteChangeKind Kind, IPAddress Address, string? Interface = null)
{
    /// <summary>A route to <paramref name="interfaceName"/>; with no interface (a range without one) there is nothing to route to, so a removal.</summary>
    public static RouteChange Host(IPAddress address, string? interfaceName) =>
        interfaceName is null ? Removal(address) : new(RouteChangeKind.HostRoute, address, interfaceName);

    /// <summary>A blackhole for <paramref name="address"/>.</summary>
    public static RouteChange Blackhole(IPAddress address) => new(RouteChangeKind.Blackhole, address);

    /// <summary>The removal of our route for <paramref name="address"/>.</summary>
    public static RouteChange Removal(IPAddress address) => new(RouteChangeKind.Remove, address);

    /// <summary>Applies the change to <paramref name="table"/> (synchronously: the shell's queue or a test calls this, never the engine).</summary>
    public void ApplyTo(IRouteTable table)
    {
        ArgumentNullException.ThrowIfNull(table);
        switch (Kind)
        {
            case RouteChangeKind.HostRoute: table.Set(new HostRoute(Address, HostRouteKind.Local, Interface)); break;
            case RouteChangeKind.Blackhole: table.Set(new HostRoute(Address, HostRouteKind.Blackhole, null)); break;
            default: table.Remove(Address); break;
        }
    }

    /// <inheritdoc />
    public override string ToString() => Kind switch
    {
        RouteChangeKind.HostRoute => $"route {Address} dev {Interface}",
        RouteChangeKind.Blackhole => $"blackhole {Address}",
        _ => $"remove {Address}",
    };
}

/// <summary>
/// Where the engine puts the route changes it decides, in order. Called under the engine's lock, so an implementation
/// only records or queues the change and never blocks (the shell's <see cref="RouteProgrammer"/> queues it).
/// </summary>
public interface IRouteChangeSink
{
    /// <summary>Takes <paramref name="change"/> for later (or immediate, in-memory) application.</summary>
    void Enqueue(RouteChange change);
}
