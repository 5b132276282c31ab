using LispMobility.Lisp.Addressing;

namespace LispMobility.Xtr.DataPlane;

/// <summary>What the data-plane core needs of the xTR's configuration.</summary>
public sealed record DataPlaneSettings
{
    /// <summary>This site's RLOCs (outer sources of what the ITR sends, outer destinations the ETR accepts), in LSB order.</summary>
    public required IReadOnlyList<LispAddress> LocalRlocs { get; init; }

    /// <summary>
    /// The instance ID of the site's EIDs (their map-cache space), carried in the I field and required of received packets;
    /// null when the EIDs have none (the header then carries 0).
    /// </summary>
    public uint? InstanceId { get; init; }

    /// <summary>The MTU of the links toward the RLOCs: an encapsulated packet must fit it (the usable inner MTU is 36/56 less).</summary>
    public int LinkMtu { get; init; } = 1500;

    /// <summary>Packets held per destination without a map-cache entry until the Map-Reply; 0 drops them (counted).</summary>
    public int MissQueueDepth { get; init; } = 8;

    /// <summary>Destinations whose packets may be held at once.</summary>
    public int MissQueueDestinations { get; init; } = 64;

    /// <summary>How long held packets wait for their Map-Reply before they are dropped (counted).</summary>
    public TimeSpan MissHoldTime { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>How often one destination may cause a Map-Request, and one ITR and EID an SMR.</summary>
    public TimeSpan SignalInterval { get; init; } = TimeSpan.FromSeconds(1);
}

/// <summary>The slow paths the data plane asks of the control plane; called rarely (rate-limited), off no lock.</summary>
public interface IDataPlaneSignals
{
    /// <summary>No map-cache entry (or a negative one that says so) for <paramref name="destination"/>: resolve it.</summary>
    void MapCacheMiss(LispAddress destination);

    /// <summary>An ITR sent data for <paramref name="eid"/>, which moved away from here: solicit that ITR (SMR).</summary>
    void SolicitItr(LispAddress itrRloc, LispAddress eid);

    /// <summary>
    /// A data packet from <paramref name="sourceEid"/> carried its site's locator-status bits (<paramref name="width"/> of
    /// them): honour them in the map-cache. Sent at most once per interval per remote ITR and value.
    /// </summary>
    void LocatorStatusBits(LispAddress sourceEid, uint bits, int width) { }
}

/// <summary>Signals nobody acts on: for engines that run detached from a control plane (the warm-up, benchmarks, tests).</summary>
public sealed class NoDataPlaneSignals : IDataPlaneSignals
{
    /// <summary>The one instance (it holds nothing).</summary>
    public static NoDataPlaneSignals Instance { get; } = new();

    private NoDataPlaneSignals()
    {
    }

    /// <inheritdoc />
    public void MapCacheMiss(LispAddress destination)
    {
    }

    /// <inheritdoc />
    public void SolicitItr(LispAddress itrRloc, LispAddress eid)
    {
    }
}
