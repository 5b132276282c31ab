using System.Collections.Concurrent;
using System.Net;
using System.Net.NetworkInformation;
using System.Net.Sockets;
using System.Runtime.Versioning;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace LispMobility.Watchers.DataPlane;

/// <summary>
/// The data-plane sniffer: AF_PACKET capture on the server-facing interfaces, reporting hosts that announce
/// themselves (GARP, RARP, unsolicited NA, DAD) or appear (ARP, first IP packet) as <see cref="WorkloadChange.Discovered"/>.
/// Linux only; elsewhere it says so at startup and does nothing.
/// </summary>
public sealed partial class DataPlaneWatcher : IWorkloadWatcher, ILivenessProbe
{
    private static readonly TimeSpan ReceiveTimeout = TimeSpan.FromMilliseconds(200);
    private static readonly TimeSpan ReopenDelay = TimeSpan.FromSeconds(5);
    private const int ReceiveBufferBytes = 1 << 20;

    private readonly DataPlaneOptions _options;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly MacDirectory _directory;
    private readonly string _host;
    private readonly ConcurrentDictionary<string, object> _sockets = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<IPAddress, TaskCompletionSource> _probes = new();
    private long _frames, _reported, _suppressed, _malformed;

    /// <summary>Creates the watcher; the options are validated here, every problem at once.</summary>
    public DataPlaneWatcher(DataPlaneOptions options, ILogger<DataPlaneWatcher> logger, TimeProvider? time = null, MacDirectory? directory = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(logger);
        var errors = options.Validate();
        if (errors.Count > 0) throw new ArgumentException(string.Join(Environment.NewLine, errors), nameof(options));
        _options = options;
        _logger = logger;
        _time = time ?? TimeProvider.System;
        _directory = directory ?? new MacDirectory();
        _host = string.IsNullOrWhiteSpace(options.HostName) ? Environment.MachineName : options.HostName;
    }

    /// <inheritdoc />
    public string Name => WorkloadSources.DataPlane;

    /// <summary>Counters since start: frames read, facts reported, sightings suppressed (dedup, rate, table full), malformed frames.</summary>
    public (long Frames, long Reported, long Suppressed, long Malformed) Statistics =>
        (Interlocked.Read(ref _frames), Interlocked.Read(ref _reported), Interlocked.Read(ref _suppressed), Interlocked.Read(ref _malformed));

    /// <summary>Completes once every configured interface has an open capture socket (or the watcher stopped).</summary>
    public Task Ready => _ready.Task;

    private readonly TaskCompletionSource _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <inheritdoc />
    public async Task RunAsync(IWorkloadEvents events, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(events);
        if (!OperatingSystem.IsLinux())
        {
            LogUnavailable(_logger, Environment.OSVersion.Platform.ToString());
            _ready.TrySetResult();
            return;
        }
        var captures = StartCaptures(events, ct);
        try
        {
            await Task.WhenAll(captures).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            // Stopping is the normal end of a watcher.
        }
        finally
        {
            _ready.TrySetResult();
        }
    }

    /// <inheritdoc />
    public async Task<bool> IsAliveAsync(IPAddress address, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(address);
        if (!OperatingSystem.IsLinux()) return false;
        // Asked before the captures are open (the reconciler's pass at start races the watcher's start), a probe would go out
        // on no socket and report silence: it waits for them, within its own time budget.
        try
        {
            await _ready.Task.WaitAsync(_options.ProbeTimeout * _options.ProbeAttempts, _time, ct).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            // An interface that never opened: the probe goes out on those that did.
        }

        var answer = _probes.GetOrAdd(address, _ => new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));
        try
        {
            for (var attempt = 1; attempt <= _options.ProbeAttempts; attempt++)
            {
                foreach (var socket in _sockets.Values)
                {
                    var capture = (PacketSocket)socket;
                    try
                    {
                        var mac = capture.CurrentMac();
                        capture.Send(address.AddressFamily == AddressFamily.InterNetwork ? NeighborFrames.ArpProbe(mac, address) : NeighborFrames.NeighborSolicitation(mac, address));
                    }
                    catch (InvalidOperationException e) { LogProbeSendFailed(_logger, capture.InterfaceName, address, e.Message); }
                }
                try
                {
                    await answer.Task.WaitAsync(_options.ProbeTimeout, _time, ct).ConfigureAwait(false);
                    LogProbeAnswered(_logger, address, attempt);
                    return true;
                }
                catch (TimeoutException)
                {
                    // No answer to this attempt; the next one goes out.
                }
            }
            LogProbeSilent(_logger, address, _options.ProbeAttempts);
            return false;
        }
        finally
        {
            _probes.TryRemove(new KeyValuePair<IPAddress, TaskCompletionSource>(address, answer));
        }
    }

    // One dedicated thread per interface: a blocking receive with a short timeout, so a stop is seen within it.
    [SupportedOSPlatform("linux")]
    private Task[] StartCaptures(IWorkloadEvents events, CancellationToken ct) =>
        _options.Interfaces.Distinct(StringComparer.Ordinal)
            .Select(name => Task.Factory.StartNew(() => Capture(name, events, ct), ct, TaskCreationOptions.LongRunning, TaskScheduler.Default))
            .ToArray();

    [SupportedOSPlatform("linux")]
    private void Capture(string interfaceName, IWorkloadEvents events, CancellationToken ct)
    {
        while (!ct.IsCancellationRequested)
        {
            PacketSocket socket;
            try
            {
                socket = PacketSocket.Open(interfaceName, _options.Promiscuous, ReceiveTimeout, ReceiveBufferBytes);
            }
            catch (InvalidOperationException e)
            {
                LogOpenFailed(_logger, interfaceName, e.Message, ReopenDelay);
                ct.WaitHandle.WaitOne(ReopenDelay);
                continue;
            }
            using (socket)
            {
                _sockets[interfaceName] = socket;
                LogCapturing(_logger, interfaceName, socket.InterfaceIndex, socket.Mac.ToString());
                if (_sockets.Count == _options.Interfaces.Distinct(StringComparer.Ordinal).Count()) _ready.TrySetResult();
                try
                {
                    Read(socket, events, ct);
                }
                catch (InvalidOperationException e)
                {
                    LogCaptureFailed(_logger, interfaceName, e.Message);
                }
                finally
                {
                    _sockets.TryRemove(interfaceName, out _);
                }
            }
        }
    }

    [SupportedOSPlatform("linux")]
    private void Read(PacketSocket socket, IWorkloadEvents events, CancellationToken ct)
    {
        var throttle = NewThrottle();
        var buffer = new byte[9216]; // a jumbo frame
        var filter = new KnownSenderFilter(socket, throttle, _time, _logger);
        while (!ct.IsCancellationRequested)
        {
            var length = socket.Receive(buffer, out var packetType);
            filter.Refresh();
            if (length < 0 || packetType == PacketSocket.PacketOutgoing) continue;
            // A full stream blocks this capture thread; the kernel's bounded socket buffer then drops frames, not us.
            if (Take(buffer.AsSpan(0, length), socket.InterfaceName, throttle) is { } fact) events.PublishAsync(fact, ct).AsTask().GetAwaiter().GetResult();
        }
    }

    /// <summary>
    /// Keeps a capture socket's kernel filter (<see cref="SenderFilter"/>) in step with its throttle's known senders: rebuilt
    /// when they changed, at most every 200 ms (a burst of new hosts costs one rebuild, not one each). A filter is charged to
    /// the socket's option memory (net.core.optmem_max, 20 KB before Linux 6.9): one the kernel refuses is tried again with
    /// half the instructions, the senders left out read as without it. One capture thread owns it.
    /// </summary>
    [SupportedOSPlatform("linux")]
    private sealed class KnownSenderFilter(PacketSocket socket, ReportThrottle throttle, TimeProvider time, ILogger logger)
    {
        private static readonly TimeSpan Interval = TimeSpan.FromMilliseconds(200);
        private int _budget = SenderFilter.MaxInstructions;
        private int _applied;
        private long _appliedAt = time.GetTimestamp();
        private bool _refused;
        private int _toldLeft;

        public void Refresh()
        {
            if (_refused || throttle.Version == _applied || time.GetElapsedTime(_appliedAt) < Interval) return;
            _applied = throttle.Version;
            _appliedAt = time.GetTimestamp();
            while (true)
            {
                var program = SenderFilter.Build(throttle.KnownSenders, _budget, out var held, out var left);
                if (socket.TrySetFilter(program, out var error))
                {
                    // Said once, and again only when more are left out than last said.
                    if (left > _toldLeft)
                    {
                        _toldLeft = left;
                        LogFilterFull(logger, socket.InterfaceName, held, left);
                    }

                    return;
                }

                if (program.Length > 64)
                {
                    _budget = program.Length / 2;
                    continue;
                }

                // Nothing is lost: the packets it would drop reach the reader, which finds them known.
                _refused = true;
                LogFilterRefused(logger, socket.InterfaceName, error ?? "unknown");
                return;
            }
        }
    }

    private ReportThrottle NewThrottle() => new(_options.TableCapacity, _options.DedupWindow, _options.ReportsPerSecond, _options.ReportBurst, _time);

    // One captured frame: the fact it reports, or null (not a neighbour frame, or throttled). The capture loop's whole decision.
    private WorkloadObserved? Take(ReadOnlySpan<byte> bytes, string interfaceName, ReportThrottle throttle)
    {
        Interlocked.Increment(ref _frames);
        if (!NeighborFrameReader.TryRead(bytes, out var frame, out var reason))
        {
            if (reason is not null && Interlocked.Increment(ref _malformed) % 1000 == 1) LogMalformed(_logger, interfaceName, reason);
            return null;
        }
        if (frame.Address is { } sender && !_probes.IsEmpty && _probes.TryGetValue(sender, out var probe)) probe.TrySetResult();
        var address = Reportable(frame.Address) ? frame.Address : null;
        var verdict = throttle.Admit(frame.Mac, address, frame.Signal != NeighborSignal.IpPacket);
        if (verdict != ThrottleVerdict.Report)
        {
            if (verdict is ThrottleVerdict.RateLimited or ThrottleVerdict.TableFull && Interlocked.Increment(ref _suppressed) % 1000 == 1)
                LogSuppressed(_logger, interfaceName, verdict.ToString());
            return null;
        }
        if (address is not null) _directory.Learn(frame.Mac, address);
        IReadOnlyList<IPAddress> addresses = address is not null ? [address] : _directory.Lookup(frame.Mac);
        var mac = FormatMac(frame.Mac);
        var fact = new WorkloadObserved(mac, mac, [frame.Mac], addresses, _host, _options.Site, WorkloadChange.Discovered,
            Name, _time.GetTimestamp(), Interface: interfaceName);
        Interlocked.Increment(ref _reported);
        LogDiscovered(_logger, mac, frame.Signal.ToString(), string.Join(' ', addresses), interfaceName);
        return fact;
    }

    /// <summary>
    /// The capture loop's handling of a VM's announce (a gratuitous ARP for each IPv4 address, an unsolicited NA for each IPv6
    /// one, from <paramref name="mac"/>) run on a throwaway watcher of <paramref name="site"/> that logs nothing: the facts a
    /// watcher there would report. For an agent's warm-up at start; no socket, no shared state.
    /// </summary>
    public static IReadOnlyList<WorkloadObserved> WarmUp(string site, PhysicalAddress mac, IReadOnlyList<IPAddress> addresses)
    {
        ArgumentNullException.ThrowIfNull(addresses);
        var watcher = new DataPlaneWatcher(new DataPlaneOptions { Interfaces = ["warm-up"], Site = site, HostName = site }, NullLogger<DataPlaneWatcher>.Instance);
        var throttle = watcher.NewThrottle();
        var facts = new List<WorkloadObserved>();
        foreach (var address in addresses)
        {
            var frame = address.AddressFamily == AddressFamily.InterNetworkV6
                ? NeighborFrames.UnsolicitedNeighborAdvertisement(mac, address)
                : NeighborFrames.Arp(1, mac, address, address);
            if (watcher.Take(frame, "warm-up", throttle) is { } fact) facts.Add(fact);
        }

        return facts;
    }

    // Link-local and multicast addresses are never EIDs; the MAC is still worth reporting.
    private static bool Reportable(IPAddress? address) =>
        address is not null && !address.IsIPv6LinkLocal && !address.IsIPv6Multicast && !IPAddress.IsLoopback(address)
        && !(address.AddressFamily == AddressFamily.InterNetwork && (address.GetAddressBytes()[0] >= 224 || address.GetAddressBytes() is [169, 254, ..]));

    /// <summary>The MAC as operators write it: lower-case, colon-separated.</summary>
    public static string FormatMac(PhysicalAddress mac)
    {
        ArgumentNullException.ThrowIfNull(mac);
        return string.Join(':', mac.GetAddressBytes().Select(b => b.ToString("x2", System.Globalization.CultureInfo.InvariantCulture)));
    }
}
