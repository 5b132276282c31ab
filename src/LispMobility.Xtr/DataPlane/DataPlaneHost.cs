using System.Net;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using System.Runtime.Versioning;
using LispMobility.Lisp.Addressing;
using LispMobility.Platform.DataPlane;
using LispMobility.Platform.DataPlane.FastPath;
using LispMobility.Platform.Netlink;
using LispMobility.Xtr.Configuration;
using Microsoft.Extensions.Logging;

namespace LispMobility.Xtr.DataPlane;

/// <summary>
/// The data plane's Linux shell: a device that the remote EID space is routed to (a TUN, or a veth pair read through a
/// packet ring: <see cref="IEidDevice"/>), with one queue per core, each read by its own ITR loop (a batch per wake-up:
/// io_uring reads kept in flight on the TUN, a block of the ring on the veth; TCP super-packets cut into segments; sent as
/// whole outer packets with one <c>sendmmsg</c> per batch) and a UDP 4341 socket per local RLOC (received with
/// <c>recvmmsg</c> by one ETR loop each; a batch's segments of one TCP flow joined, the inner packets written to the device
/// a batch per syscall). The per-packet work is the sans-I/O <see cref="ItrEncapsulator"/>,
/// <see cref="EtrDecapsulator"/>, <see cref="TcpSegments"/> and <see cref="TcpCoalescer"/>.
/// </summary>
[SupportedOSPlatform("linux")]
public sealed partial class DataPlaneHost : IDisposable
{
    /// <summary>rtm_protocol of the TUN routes: not the host routes' 222, so the route table never lists them as hosts.</summary>
    public const byte RouteProtocol = 223;

    private const int DataPort = 4341;

    // Packets per batch of TUN reads and writes (io_uring), as many as one recvmmsg or sendmmsg carries.
    private const int Batch = 64;
    private readonly XtrOptions _options;
    private readonly XtrEngine _engine;
    private readonly IDataPlaneSignals _signals;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _stop = new();
    private readonly List<Thread> _threads = [];
    private readonly List<LispDataSocket> _sockets = [];
    private readonly DataPlaneSettings _settings;
    private readonly List<RawIpSender> _senders = [];
    private readonly List<IPacketReader> _readers = [];
    private IEidDevice? _device;
    private KernelFastPath? _fastPath;
    private FastPathMirror? _mirror;
    private LocalEids _eids = LocalEids.None;
    private int _disposed;

    /// <summary>Prepares the host; <see cref="Start"/> opens the devices.</summary>
    public DataPlaneHost(XtrOptions options, XtrEngine engine, IDataPlaneSignals signals, TimeProvider? time, ILogger<DataPlaneHost> logger)
    {
        _options = options ?? throw new ArgumentNullException(nameof(options));
        _engine = engine ?? throw new ArgumentNullException(nameof(engine));
        _signals = signals ?? throw new ArgumentNullException(nameof(signals));
        _time = time ?? TimeProvider.System;
        _logger = logger ?? throw new ArgumentNullException(nameof(logger));
        var iid = options.DatabaseMappings.Concat(options.DynamicEids.Select(d => d.Prefix)).Select(EidPrefix.Parse).Select(p => p.InstanceId).FirstOrDefault(i => i is not null);
        _settings = new DataPlaneSettings
        {
            LocalRlocs = [.. options.Rlocs.Select(r => LispAddress.Parse(r.Address))], InstanceId = iid, LinkMtu = options.DataPlane.LinkMtu,
            MissQueueDepth = options.DataPlane.MissQueueDepth, MissQueueDestinations = options.DataPlane.MissQueueDestinations,
            MissHoldTime = options.ResolveTimeout,
        };
        engine.EventRaised += (_, e) =>
        {
            if (e is HostRegistered or HostAway or HostAwayCleared or HostWithdrawn) RefreshEids();
            if (e is MapCacheUpdated) WakeItrs();
            if (e is HostRegistered or HostAway or HostAwayCleared or HostWithdrawn or MapCacheUpdated or RlocReachabilityChanged) _mirror?.Changed();
        };
    }

    /// <summary>What the data plane counted.</summary>
    public DataPlaneCounters Counters { get; } = new();

    /// <summary>The EID device's MTU: the link MTU less the largest encapsulation among the RLOCs' families.</summary>
    public int TunMtu => _settings.LinkMtu - (_settings.LocalRlocs.Any(r => r.Kind == AddressKind.IPv6) ? 56 : 36);

    /// <summary>Creates the EID device, routes the remote EID space to it, binds UDP 4341 on each RLOC and starts the loops.</summary>
    public void Start()
    {
        RefreshEids();
        var dp = _options.DataPlane;
        _device = dp.UsesVeth
            ? new VethDevice(dp.TunName, TunMtu, dp.Offloads, dp.EffectiveQueues)
            : new TunDevice(dp.TunName, TunMtu, dp.Offloads, dp.EffectiveQueues);
        if (_device.OffloadErrno != 0) LogNoOffloads(_device.Name, _device.OffloadErrno);
        else if (_device.HasVnetHeader && !_device.TakesUdpSuperPackets) LogNoUdpSuperPackets();
        foreach (var text in _options.DataPlane.RemoteEidPrefixes)
        {
            var p = EidPrefix.Parse(text);
            _device.AddRoute(p.Address.ToIPAddress(), p.MaskLength, RouteProtocol);
        }

        for (var q = 0; q < _device.Queues; q++) _senders.Add(new RawIpSender());
        var udpOffloads = _options.DataPlane.UdpOffloads;
        foreach (var rloc in _settings.LocalRlocs)
        {
            var socket = new LispDataSocket(new IPEndPoint(rloc.ToIPAddress(), DataPort), coalesce: udpOffloads);
            _sockets.Add(socket);
            if (socket.CoalesceError is { } error) LogNoGro(socket.Local.ToString(), error.ToString());
        }

        for (var q = 0; q < _device.Queues; q++)
        {
            var queue = q;
            StartThread($"lisp-itr {q}", () => ItrLoop(queue));
        }

        foreach (var socket in _sockets) StartThread($"lisp-etr {socket.Local}", () => EtrLoop(socket));
        LogStarted(dp.UsesVeth ? "veth (packet ring)" : "TUN", _device.Name, TunMtu, _device.Queues, _sockets.Count);
        StartFastPath();
    }

    /// <summary>Whether the kernel fast path runs (Xtr:DataPlane:FastPath).</summary>
    public bool FastPathActive => _fastPath is not null && _mirror is { Detached: false };

    // The kernel fast path beside the user-space loops (which keep everything it does not take); "auto" says why it is not
    // had and goes on without it, "on" makes that a start error.
    private void StartFastPath()
    {
        var dp = _options.DataPlane;
        if (dp.FastPath == "off") return;
        try
        {
            if (dp.UsesVeth) throw new IOException("the kernel fast path runs on the TUN device, not the veth pair");
            _fastPath = KernelFastPath.Open(new FastPathSetup(_device!.Name, [.. _settings.LocalRlocs.Where(r => r.IsIp).Select(r => r.ToIPAddress())],
                _settings.InstanceId ?? 0, dp.EffectiveFastPathDevice, (ushort)dp.FastPathPort, SuperPacketsOnly: dp.FastPath == "bulk"));
        }
        catch (Exception e) when (e is IOException or NetlinkException or UnauthorizedAccessException)
        {
            if (dp.FastPath == "on") throw new IOException($"Xtr:DataPlane:FastPath is on, and the kernel fast path cannot start: {e.Message}", e);
            LogNoFastPath(e.Message);
            return;
        }

        var mirror = new FastPathMirror(_fastPath, _settings, () => _engine.MapCacheSnapshot, _engine.MapCacheEntries, () => Volatile.Read(ref _eids),
            Counters, _signals, _time, _logger);
        mirror.Sync();
        _mirror = mirror;
        StartThread("lisp-fastpath", () => mirror.Run(_stop.Token));
        LogFastPath(_device!.Name, dp.FastPath == "bulk" ? "TCP super-packets" : "every packet", string.Join(", ", _fastPath.EtrInterfaces), dp.EffectiveFastPathDevice, dp.FastPathPort);
        // The ITR program's route lookup is a forwarding one: a host that forwards nothing gets no kernel encapsulation.
        var forwarding = $"/proc/sys/net/ipv4/conf/{_device.Name}/forwarding";
        if (File.Exists(forwarding) && File.ReadAllText(forwarding).Trim() == "0") LogNotForwarding(_device.Name);
    }

    /// <summary>Rebuilds the ETR's view of the site's EIDs from the options and the engine's hosts.</summary>
    public void RefreshEids()
    {
        static EidPrefix WithoutIid(string text)
        {
            var p = EidPrefix.Parse(text);
            return new EidPrefix(p.Address.WithInstanceId(null), p.MaskLength);
        }

        var hosts = _engine.Hosts();
        Volatile.Write(ref _eids, new LocalEids(_options.DatabaseMappings.Select(WithoutIid),
            hosts.Where(h => h.State is HostState.Registered or HostState.Registering or HostState.Unconfirmed).Select(h => h.Eid.Address.WithInstanceId(null)),
            hosts.Where(h => h.State == HostState.Away).Select(h => h.Eid.Address.WithInstanceId(null)),
            _options.DynamicEids.Select(d => WithoutIid(d.Prefix))));
    }

    // A map-cache entry came in: ITR loops holding packets for it release them now rather than at their next wake-up.
    private void WakeItrs()
    {
        lock (_readers)
        {
            foreach (var r in _readers) r.Wake();
        }
    }

    private void StartThread(string name, Action loop)
    {
        var thread = new Thread(() =>
        {
            try
            {
                loop();
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                LogLoopFault(e, name);
            }
        }) { IsBackground = true, Name = name };
        _threads.Add(thread);
        thread.Start();
    }

    // The two loops are called once and run for the agent's life: compiled optimised at their first call, they never wait
    // for on-stack replacement, whose compilation would otherwise fall on a site's first data packets (a move's, at a new site).
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void ItrLoop(int queue)
    {
        var itr = new ItrEncapsulator(_settings, () => _engine.MapCacheSnapshot, Counters, _signals);
        var buffer = new byte[ItrEncapsulator.Headroom + 65536];
        var icmp = new byte[1500];
        var device = _device!;
        var sender = _senders[queue];
        // A super-packet's segments go to one RLOC with one outer source port, as do the packets of a burst of one flow read in
        // one batch: one UDP GSO send each where the flow's socket can be had.
        using var segmenter = _options.DataPlane.UdpOffloads ? new UdpSegmentSender() : null;
        var lastFlow = new byte[34];
        var lastFlowLength = 0;
        // Packets leave in the order read: whichever sender holds packets sends them before the other takes one.
        var rawQueued = false;
        var segmentsQueued = false;
        // Where the TUN puts a virtio-net header before each packet, the packet starts after it (the header's bytes then
        // belong to the headroom the outer headers are written into).
        var offset = ItrEncapsulator.Headroom + (device.HasVnetHeader ? VirtioNetHeader.Length : 0);
        using var reader = device.OpenReader(queue, Batch, ItrEncapsulator.Headroom, 65536, _options.DataPlane.IoUring);
        if (_options.DataPlane.IoUring && !reader.Batched && queue == 0) LogNoRing("reads", reader.RingErrno);
        lock (_readers) _readers.Add(reader);
        try
        {
            var refused = sender.Errors;
            var segmentRefused = 0L;
            var segmentedSends = 0L;
            var toldUnbound = false;
            var toldRefused = false;
            while (!_stop.IsCancellationRequested)
            {
                // While packets wait for a Map-Reply, the reply's map-cache update wakes the wait (WakeItrs); the 50 ms only
                // bound how late packets held past the hold time are dropped and counted.
                var ready = reader.Wait(itr.HasHeld ? 50 : 500);
                var now = _time.GetUtcNow();
                while (itr.HasHeld && itr.TryRelease(buffer, now, icmp, out var verdict, out var output)) Forward(verdict, buffer, output);

                // What the device gave since the last wake-up (at most a batch, so that a flood cannot starve the flush).
                var n = ready ? reader.Read() : 0;
                for (var i = 0; i < n; i++)
                {
                    var slot = reader.Slot(i);
                    var length = reader.Length(i) - (offset - ItrEncapsulator.Headroom);
                    if (length <= 0) continue;
                    // Without a virtio-net header a packet is as one whose header asks for nothing (the default).
                    var header = device.HasVnetHeader ? VirtioNetHeader.Read(slot[ItrEncapsulator.Headroom..]) : default;
                    var packet = slot.Slice(offset, length);
                    if (!header.IsSuperPacket)
                    {
                        if (header.TryCompleteChecksum(packet)) Forward(itr.Encapsulate(slot, offset, length, now, icmp, out var output), slot, output);
                        else Counters.Drop(DataPlaneDrop.BadInnerPacket);
                        continue;
                    }

                    if (!TcpSegments.TryCreate(packet, header, out var segments))
                    {
                        Counters.Drop(DataPlaneDrop.BadInnerPacket);
                        continue;
                    }

                    Counters.SuperPacket();
                    while (true)
                    {
                        // Each segment is cut and encapsulated where the GSO sender queues it (its workspace), not copied there after.
                        Span<byte> room = segmenter is null ? buffer : segmenter.Workspace;
                        if (room.Length < ItrEncapsulator.Headroom + segments.MaxSegmentLength) room = buffer;
                        if (!segments.TryNext(room[ItrEncapsulator.Headroom..], out var segment)) break;
                        Forward(itr.Encapsulate(room, ItrEncapsulator.Headroom, segment, now, icmp, out var output), room, output, segmented: true);
                    }
                }

                segmenter?.Flush();
                segmentsQueued = false;
                lastFlowLength = 0;
                sender.Flush();
                rawQueued = false;
                Counters.Drop(DataPlaneDrop.DeviceRefused, sender.Errors - refused + reader.TakeDropped());
                refused = sender.Errors;
                if (segmenter is not null)
                {
                    Counters.Drop(DataPlaneDrop.DeviceRefused, segmenter.Errors - segmentRefused);
                    segmentRefused = segmenter.Errors;
                    Counters.SegmentedSend(segmenter.SegmentedSends - segmentedSends);
                    segmentedSends = segmenter.SegmentedSends;
                    // Nothing is lost either way, but the operator asked for GSO: say once per loop when it is not had.
                    if (!toldUnbound && segmenter.Unbound > 0)
                    {
                        toldUnbound = true;
                        LogGsoUnbound(queue);
                    }

                    if (!toldRefused && segmenter.SegmentationRefused != 0)
                    {
                        toldRefused = true;
                        LogGsoRefused(queue, segmenter.SegmentationRefused);
                    }
                }

                reader.Rearm();
            }
        }
        finally
        {
            // Out of the wake list before the using disposes it: a wake must never write to a closed (or reused) descriptor.
            lock (_readers) _readers.Remove(reader);
        }

        void Forward(ItrVerdict verdict, ReadOnlySpan<byte> packets, Range output, bool segmented = false)
        {
            switch (verdict)
            {
                // A flow's first packet goes raw, so that a one-off flow never costs a socket of its own; its next ones in
                // the same batch (a run), and every segment of a super-packet, go to the segmenter.
                case ItrVerdict.Encapsulated when segmenter is not null && (SameFlowAsLast(packets[output]) || segmented):
                    if (rawQueued)
                    {
                        sender.Flush();
                        rawQueued = false;
                    }

                    if (segmenter.TryQueue(packets[output]))
                    {
                        segmentsQueued = true;
                        break;
                    }

                    QueueRaw(packets[output]);
                    break;
                case ItrVerdict.Encapsulated:
                case ItrVerdict.Native:
                    QueueRaw(packets[output]);
                    break;
                case ItrVerdict.IcmpReply:
                    if (!device.Write(icmp.AsSpan(output))) Counters.Drop(DataPlaneDrop.DeviceRefused);
                    break;
            }
        }

        // Whether the outer packet has the previous one's addresses and source port (our own PacketWriter's layout); it
        // becomes the previous one.
        bool SameFlowAsLast(ReadOnlySpan<byte> packet)
        {
            var key = packet[0] >> 4 == 4 && packet.Length >= 22 ? packet[12..22] : packet.Length >= 42 ? packet[8..42] : default;
            var same = key.Length == lastFlowLength && key.SequenceEqual(lastFlow.AsSpan(0, lastFlowLength));
            key.CopyTo(lastFlow);
            lastFlowLength = key.Length;
            return same;
        }

        void QueueRaw(ReadOnlySpan<byte> packet)
        {
            if (segmentsQueued)
            {
                segmenter!.Flush();
                segmentsQueued = false;
            }

            sender.Queue(packet);
            rawQueued = true;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void EtrLoop(LispDataSocket socket)
    {
        var etr = new EtrDecapsulator(_settings, () => Volatile.Read(ref _eids), Counters, _signals);
        var local = IpPacket.Bits(LispAddress.FromIPAddress(socket.Local.Address));
        var kind = socket.Local.AddressFamily == AddressFamily.InterNetwork ? AddressKind.IPv4 : AddressKind.IPv6;
        var device = _device!;
        using var writer = device.OpenWriter(Batch, 65536, _options.DataPlane.IoUring);
        // Where the TUN takes a virtio-net header, a batch's consecutive segments of one TCP flow, or datagrams of one UDP flow,
        // are written as one super-packet. One run is pending at a time, so packets reach the TUN in the order received.
        var joiner = device.HasVnetHeader ? new TcpCoalescer() : null;
        var udpJoiner = device.TakesUdpSuperPackets ? new UdpCoalescer() : null;
        if (_options.DataPlane.IoUring && !writer.Batched) LogNoRing("writes", writer.RingErrno);
        var refused = 0L;
        var joined = 0L;
        var now = _time.GetUtcNow();
        while (!_stop.IsCancellationRequested)
        {
            var n = socket.Receive();
            if (n == 0) continue;
            now = _time.GetUtcNow();
            for (var i = 0; i < n; i++)
            {
                if (!socket.TrySource(i, out _, out var source)) continue;
                var payload = socket.Payload(i);
                var size = socket.SegmentSize(i);
                if (size <= 0 || size >= payload.Length)
                {
                    Take(payload, source);
                    continue;
                }

                // A run of datagrams an ITR sent as one GSO send: each segment is a datagram of its own.
                Counters.CoalescedReceive();
                for (var at = 0; at < payload.Length; at += size) Take(payload.Slice(at, Math.Min(size, payload.Length - at)), source);
            }

            WritePendingRun();
            writer.Flush();
            if (joiner is not null)
            {
                var runs = joiner.Joined + (udpJoiner?.Joined ?? 0);
                Counters.Join(runs - joined);
                joined = runs;
            }
            Counters.Drop(DataPlaneDrop.DeviceRefused, writer.Dropped - refused);
            refused = writer.Dropped;
        }

        void Take(ReadOnlySpan<byte> payload, UInt128 source)
        {
            if (!etr.TryDecapsulate(payload, kind, source, local, now, out var inner)) return;
            var packet = payload[inner];
            if (joiner is null)
            {
                writer.Queue(packet);
                return;
            }

            if (joiner.TryAppend(packet) || udpJoiner?.TryAppend(packet) == true) return;
            WritePendingRun();
            if (!joiner.TryStart(packet) && udpJoiner?.TryStart(packet) != true) writer.Queue(packet);
        }

        // The one run pending (TCP or UDP), if any, goes to the TUN before anything after it.
        void WritePendingRun()
        {
            if (joiner is { HasRun: true }) writer.QueueFramed(joiner.Take());
            else if (udpJoiner is { HasRun: true }) writer.QueueFramed(udpJoiner.Take());
        }
    }

    /// <summary>Stops the loops and closes the devices (the kernel removes the EID device's routes with it).</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        _stop.Cancel();
        foreach (var t in _threads) t.Join(TimeSpan.FromSeconds(2));
        _fastPath?.Dispose();
        foreach (var s in _sockets) s.Dispose();
        foreach (var s in _senders) s.Dispose();
        _device?.Dispose();
        _stop.Dispose();
    }

    [LoggerMessage(EventId = 2300, Level = LogLevel.Information, Message = "data plane up: {Kind} {Tun} (MTU {Mtu}, {Queues} queue(s), one ITR thread each), UDP 4341 on {Sockets} RLOC(s)")]
    private partial void LogStarted(string kind, string tun, int mtu, int queues, int sockets);

    [LoggerMessage(EventId = 2302, Level = LogLevel.Warning, Message = "data plane: io_uring is unavailable (errno {Errno}), the TUN's {What} take one syscall per packet")]
    private partial void LogNoRing(string what, int errno);

    [LoggerMessage(EventId = 2303, Level = LogLevel.Warning, Message = "data plane: {Device} refused its offload settings (errno {Errno}); on a TUN TCP is then read a segment at a time, on a veth super-packets of a kind the ITR cannot cut are dropped, counted as bad inner packets")]
    private partial void LogNoOffloads(string device, int errno);

    [LoggerMessage(EventId = 2305, Level = LogLevel.Warning, Message = "data plane: ITR queue {Queue} has no UDP socket for a flow's outer source port (another socket holds it, or no descriptor is left); that flow's packets are sent raw, one at a time")]
    private partial void LogGsoUnbound(int queue);

    [LoggerMessage(EventId = 2306, Level = LogLevel.Warning, Message = "data plane: ITR queue {Queue}: the kernel refused UDP GSO (errno {Errno}); runs are sent one datagram at a time")]
    private partial void LogGsoRefused(int queue, int errno);

    [LoggerMessage(EventId = 2307, Level = LogLevel.Information, Message = "data plane: this kernel takes no UDP super-packets on the TUN (before Linux 6.2): the ETR writes a UDP flow's datagrams one by one")]
    private partial void LogNoUdpSuperPackets();

    [LoggerMessage(EventId = 2304, Level = LogLevel.Warning, Message = "data plane: the UDP 4341 socket on {Rloc} refused UDP GRO ({Error}), each outer datagram is received alone")]
    private partial void LogNoGro(string rloc, string error);

    [LoggerMessage(EventId = 2308, Level = LogLevel.Information, Message = "data plane: kernel fast path on: ITR program on {Tun} egress ({Takes} of a mirrored destination), ETR program on {Interfaces} ingress, decapsulation through {Device} (UDP {Port}); the rest goes through user space")]
    private partial void LogFastPath(string tun, string takes, string interfaces, string device, int port);

    [LoggerMessage(EventId = 2309, Level = LogLevel.Warning, Message = "data plane: no kernel fast path ({Reason}); every packet goes through user space")]
    private partial void LogNoFastPath(string reason);

    [LoggerMessage(EventId = 2310, Level = LogLevel.Warning, Message = "data plane: IPv4 forwarding is off on {Tun} (net.ipv4.ip_forward): the kernel fast path decapsulates, but every packet to encapsulate goes through the user-space ITR")]
    private partial void LogNotForwarding(string tun);

    [LoggerMessage(EventId = 2301, Level = LogLevel.Error, Message = "data-plane loop {Loop} stopped on a fault")]
    private partial void LogLoopFault(Exception e, string loop);
}
