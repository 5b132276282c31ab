using System.Net;
using LispMobility.Platform;
using LispMobility.Xtr.Caching;

namespace LispMobility.Xtr;

/// <summary>Runs one engine call and delivers what it queued, as one step: the UDP shell, or a simulated network in tests.</summary>
public interface IXtrShell
{
    /// <summary>Calls <paramref name="call"/> with a sink and sends what it queued before another call can send.</summary>
    T Run<T>(Func<IDatagramSink, T> call);
}

/// <summary>
/// The xTR's awaitable operations (<see cref="ITunnelRouter"/>) over its sans-I/O engine, whatever shell carries its
/// datagrams: <see cref="XtrNode"/> on UDP, a simulated network with a manual clock in the domain's tests.
/// </summary>
public sealed class XtrOperations : ITunnelRouter
{
    private readonly XtrEngine _engine;
    private readonly IXtrShell _shell;
    private readonly TimeSpan _resolveTimeout;
    private readonly TimeProvider _time;

    /// <summary>Operations on <paramref name="engine"/> through <paramref name="shell"/>; resolutions time out on <paramref name="time"/>'s clock.</summary>
    public XtrOperations(XtrEngine engine, IXtrShell shell, TimeSpan resolveTimeout, TimeProvider? time = null)
    {
        _engine = engine ?? throw new ArgumentNullException(nameof(engine));
        _shell = shell ?? throw new ArgumentNullException(nameof(shell));
        _resolveTimeout = resolveTimeout;
        _time = time ?? TimeProvider.System;
    }

    /// <inheritdoc />
    public string Site => _engine.Site;

    /// <inheritdoc />
    public IReadOnlyList<Lisp.Records.Locator> Rlocs => _engine.Rlocs;

    /// <inheritdoc />
    public HostInfo? HostOf(IPAddress eid) => _engine.HostOf(eid);

    /// <inheritdoc />
    public IReadOnlyList<HostInfo> Hosts() => _engine.Hosts();

    /// <inheritdoc cref="XtrEngine.BeginRegisterHost"/>
    public Task<RegistrationResult> RegisterHostAsync(IPAddress eid, string? range = null, CancellationToken cancellationToken = default) =>
        _shell.Run(sink => _engine.BeginRegisterHost(eid, range, sink)).WaitAsync(cancellationToken);

    /// <inheritdoc cref="XtrEngine.BeginWithdrawHost"/>
    public Task WithdrawHostAsync(IPAddress eid, bool removeRoute = true, CancellationToken cancellationToken = default) =>
        _shell.Run(sink => _engine.BeginWithdrawHost(eid, sink, removeRoute)).WaitAsync(cancellationToken);

    /// <inheritdoc cref="XtrEngine.BeginRegisterHosts"/>
    public Task<RegistrationResult>[] RegisterHostsAsync(IReadOnlyList<IPAddress> eids, string? range = null, CancellationToken cancellationToken = default) =>
        Array.ConvertAll(_shell.Run(sink => _engine.BeginRegisterHosts(eids, range, sink)), t => t.WaitAsync(cancellationToken));

    /// <inheritdoc cref="XtrEngine.BeginWithdrawHosts"/>
    public Task[] WithdrawHostsAsync(IReadOnlyList<IPAddress> eids, bool removeRoute = true, CancellationToken cancellationToken = default) =>
        Array.ConvertAll(_shell.Run(sink => _engine.BeginWithdrawHosts(eids, sink, removeRoute)), t => t.WaitAsync(cancellationToken));

    /// <inheritdoc cref="XtrEngine.BeginResolve"/>
    /// <remarks>Fails with <see cref="TimeoutException"/> after the resolve timeout; the engine keeps asking at its own pace.</remarks>
    public async Task<MapCacheEntry> ResolveAsync(IPAddress eid, bool refresh = false, CancellationToken cancellationToken = default)
    {
        try
        {
            return await _shell.Run(sink => _engine.BeginResolve(eid, sink, refresh)).WaitAsync(_resolveTimeout, _time, cancellationToken).ConfigureAwait(false);
        }
        catch (TimeoutException e)
        {
            throw new TimeoutException($"no Map-Reply for {eid} within {_resolveTimeout.TotalSeconds:0.#} s", e);
        }
    }

    /// <inheritdoc />
    /// <remarks>One timeout for the whole set, the resolve timeout from the call; the engine keeps asking at its own pace.</remarks>
    public async Task<IReadOnlyList<Resolution>> ResolveManyAsync(IReadOnlyList<IPAddress> eids, bool refresh = false, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(eids);
        var pending = _shell.Run(sink =>
        {
            var tasks = new Task<MapCacheEntry>[eids.Count];
            for (var i = 0; i < tasks.Length; i++) tasks[i] = _engine.BeginResolve(eids[i], sink, refresh);
            return tasks;
        });

        // One wait for the set, not one (and a timer) per EID; what each got is read from its task afterwards.
        try
        {
            await Task.WhenAll(pending).WaitAsync(_resolveTimeout, _time, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            // A timeout or some EIDs failing: reported per EID below.
        }

        var results = new Resolution[pending.Length];
        for (var i = 0; i < pending.Length; i++)
        {
            var t = pending[i];
            results[i] = t.IsCompletedSuccessfully ? new Resolution(t.Result, null)
                : t.IsFaulted ? new Resolution(null, t.Exception!.InnerException ?? t.Exception)
                : new Resolution(null, new TimeoutException($"no Map-Reply for {eids[i]} within {_resolveTimeout.TotalSeconds:0.#} s"));
        }

        return results;
    }

    /// <inheritdoc cref="XtrEngine.SolicitRemoteItrs"/>
    public int SolicitRemoteItrs(IPAddress eid) => _shell.Run(sink => _engine.SolicitRemoteItrs(eid, sink));

    /// <inheritdoc />
    public async Task<TimeSpan?> ProbeRlocAsync(IPAddress rloc, IPAddress eid, TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        var started = _time.GetTimestamp();
        var (nonce, answered) = _shell.Run(sink => _engine.BeginProbe(rloc, eid, sink));
        try
        {
            await answered.WaitAsync(timeout, _time, cancellationToken).ConfigureAwait(false);
            return _time.GetElapsedTime(started);
        }
        catch (TimeoutException)
        {
            return null;
        }
        finally
        {
            _engine.EndProbe(nonce);
        }
    }

    /// <inheritdoc />
    public void HoldAway(IPAddress eid, MapCacheEntry mapping) => _shell.Run(sink =>
    {
        _engine.HoldAway(eid, mapping, sink);
        return 0;
    });
}
