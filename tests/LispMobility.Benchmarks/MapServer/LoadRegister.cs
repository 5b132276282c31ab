using System.Buffers.Binary;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using LispMobility.Lisp.Addressing;
using LispMobility.Lisp.Auth;
using LispMobility.Lisp.Messages;
using LispMobility.Lisp.Records;
using LispMobility.MappingSystem;
using LispMobility.MappingSystem.Configuration;
using LispMobility.Platform;
using Microsoft.Extensions.Logging.Abstractions;

namespace LispMobility.Benchmarks.MapServer;

/// <summary>
/// Load driver of a Map-Server: authenticated (HMAC-SHA-1 or HMAC-SHA-256, full MAC) Map-Registers with the M bit for
/// distinct /32 EIDs from several sockets (each its own registrant address), a window of requests in flight per
/// socket, Map-Notifies counted and a sample verified. Without <c>--server</c> the Map-Server runs in this process (so
/// the managed heap holding the registrations can be measured); with it, any Map-Server at that address is driven,
/// and with <c>--pid</c> the server's CPU (utime + stime from /proc/PID/stat) and RSS are reported per round. Rounds
/// are new registrations (a fresh block of EIDs) or refreshes (the last block again), as <c>--pattern</c> says.
/// </summary>
internal static class LoadRegister
{
    // Type/flags, record count, nonce, key-id, algorithm, auth length: the MAC starts at byte 16 (RFC 9301 §5.6).
    private const int AuthOffset = 16;
    private const int Batch = 64; // datagrams per sendmmsg/recvmmsg, like the server's transport

    private const string Usage = "usage: load-register [--server ADDRESS[:PORT]] [--pid SERVER_PID] [--algorithm sha1|sha256] [--key-id 1] [--key SECRET]\n"
        + "                     [--eids 100000] [--rounds 5 | --pattern nrnr] [--sockets 2] [--window 256] [--source A,B,..] [--server-loops N]\n"
        + "  --pattern: one letter a round, n = new registrations (a fresh block of --eids EIDs), r = refresh the last block;\n"
        + "             default n then r for the other rounds. --source: the registrant addresses (one a socket) when the\n"
        + "             server is not on loopback (on loopback, 127.11.0.x).";

    /// <summary>Parses the arguments, runs the rounds, prints the results; returns the process exit code.</summary>
    public static async Task<int> RunAsync(string[] args)
    {
        var settings = LoadSettings.Parse(args, out var problem);
        if (settings is null)
        {
            if (problem is not null) Console.Error.WriteLine($"load-register: {problem}");
            Console.Error.WriteLine(Usage);
            return 2;
        }

        var external = settings.Server is not null;
        Console.WriteLine(Invariant($"load-register: {settings.Eids} EIDs, rounds {settings.Pattern}, {settings.Sockets} sockets x window {settings.Window}, ")
            + Invariant($"{settings.Algorithm} key-id {settings.KeyId}, {(external ? $"server {settings.Server}{(settings.Pid is { } p ? $" (pid {p})" : "")}" : $"in-process server, {settings.ServerLoops} loops")}, ")
            + Invariant($"{Environment.ProcessorCount} cores, driver GC {(System.Runtime.GCSettings.IsServerGC ? "server" : "workstation")}, load average {LoadAverage()}"));

        LispMobility.MappingSystem.MapServer? server = null;
        UdpDatagramTransport? transport = null;
        var heapBefore = GC.GetTotalMemory(forceFullCollection: true);
        IPEndPoint target;
        if (settings.Server is { } remote)
        {
            target = remote;
        }
        else
        {
            var options = new MapServerOptions
            {
                Listen = ["127.0.0.1:0"],
                MapNotifyPort = 0,
                Sites = [new SiteOptions { Name = "bench", EidPrefixes = [new() { Prefix = "10.0.0.0/8", AcceptMoreSpecifics = true }], Keys = [new() { KeyId = settings.KeyId, Algorithm = settings.Algorithm, Key = settings.Key }] }],
                RequestBurstPerRequester = 1000,
            };
            server = new LispMobility.MappingSystem.MapServer(options);
            transport = new UdpDatagramTransport(server, [IPEndPoint.Parse(options.Listen[0])], NullLogger<UdpDatagramTransport>.Instance, settings.ServerLoops);
            transport.Start();
            target = transport.LocalEndpoints[0];
        }

        // In-process, the server is this process: its CPU is the driver's too.
        var serverPid = settings.Pid ?? (external ? (int?)null : Environment.ProcessId);
        var clients = Enumerable.Range(0, settings.Sockets).Select(i => new Client(i, settings, target)).ToArray();
        var exit = 0;
        try
        {
            var block = -1;
            for (var round = 1; round <= settings.Pattern.Length; round++)
            {
                var fresh = settings.Pattern[round - 1] == 'n' || block < 0;
                if (fresh) block++;
                var serverCpu = serverPid is { } sp ? ProcessCpu(sp) : TimeSpan.Zero;
                var cpu = Process.GetCurrentProcess().TotalProcessorTime;
                var gcs = (GC.CollectionCount(0), GC.CollectionCount(1), GC.CollectionCount(2));
                var allocated = GC.GetTotalAllocatedBytes();
                var clock = Stopwatch.StartNew();
                var results = RunOnOwnThreads(clients, block);
                clock.Stop();
                var cpuUsed = Process.GetCurrentProcess().TotalProcessorTime - cpu;
                var sent = results.Sum(r => r.Sent);
                var notified = results.Sum(r => r.Notified);
                var badMac = results.Sum(r => r.BadMac);
                var line = Invariant($"round {round} ({(fresh ? "new" : "refresh")}): {sent} registers in {clock.Elapsed.TotalMilliseconds:F0} ms = {notified / clock.Elapsed.TotalSeconds:F0} registrations/s; ")
                    + Invariant($"Map-Notifies {notified}, lost {sent - notified}, stalls {results.Sum(r => r.Stalls)}, bad MAC in sample {badMac}; ");
                if (serverPid is { } pid && external)
                {
                    var used = ProcessCpu(pid) - serverCpu;
                    line += Invariant($"server CPU {used.TotalMilliseconds / clock.Elapsed.TotalMilliseconds * 100:F0}% of one core = {used.TotalMilliseconds * 1000 / Math.Max(1, notified):F2} µs per registration, RSS {Rss(pid) / 1024.0:F1} MB; ");
                }

                line += Invariant($"driver CPU {cpuUsed.TotalMilliseconds / clock.Elapsed.TotalMilliseconds * 100:F0}% of one core = {cpuUsed.TotalMilliseconds * 1000 / Math.Max(1, notified):F2} µs per registration{(external ? "" : " (driver and server)")}, {(external ? "driver " : "")}GCs gen0/1/2 {GC.CollectionCount(0) - gcs.Item1}/{GC.CollectionCount(1) - gcs.Item2}/{GC.CollectionCount(2) - gcs.Item3}, allocated {(GC.GetTotalAllocatedBytes() - allocated) / (double)Math.Max(1, sent):F0} bytes per register");
                Console.WriteLine(line);
                if (badMac > 0) exit = 1;
                if (round == 1 && server is not null)
                {
                    var heap = GC.GetTotalMemory(forceFullCollection: true);
                    Console.WriteLine(Invariant(
                        $"live registrations {server.RegistrationCount}: managed heap {heap / 1048576.0:F1} MB ({(heap - heapBefore) / 1048576.0:F1} MB above the heap before the server was built), RSS {Rss(Environment.ProcessId) / 1024.0:F1} MB"));
                }
            }

            if (server is not null && transport is not null)
            {
                var c = server.Counters;
                Console.WriteLine(Invariant($"server: accepted {c.RegistersAccepted}, Map-Notifies {c.MapNotifiesSent}, rejected {string.Join(", ", c.RejectedByReason().Where(r => r.Value > 0).Select(r => $"{r.Key} {r.Value}"))}; ") + Invariant($"transport received {transport.Received}, sent {transport.Sent}, send errors {transport.SendErrors}"));
            }
        }
        finally
        {
            foreach (var client in clients) client.Dispose();
            if (transport is not null) await transport.DisposeAsync();
        }

        return exit;
    }

    /// <summary>utime + stime of a process (/proc/PID/stat fields 14 and 15, in clock ticks of 10 ms).</summary>
    private static TimeSpan ProcessCpu(int pid)
    {
        var stat = File.ReadAllText(Invariant($"/proc/{pid}/stat"));
        // The command name (field 2) is in parentheses and may hold spaces: count fields after its closing one.
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        var ticks = long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture);
        return TimeSpan.FromMilliseconds(ticks * 1000.0 / ClockTicksPerSecond);
    }

    private const int ClockTicksPerSecond = 100; // sysconf(_SC_CLK_TCK) on Linux (USER_HZ)

    /// <summary>VmRSS of a process in kB (0 when unknown).</summary>
    private static long Rss(int pid)
    {
        foreach (var l in File.ReadLines(Invariant($"/proc/{pid}/status")))
        {
            if (l.StartsWith("VmRSS:", StringComparison.Ordinal)) return long.Parse(l[6..].Trim().Split(' ')[0], CultureInfo.InvariantCulture);
        }

        return 0;
    }

    private static string LoadAverage() => File.Exists("/proc/loadavg") ? string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3)) : "?";

    // The clients block; on pool threads they would starve the server's receive loops until the pool grew.
    private static RoundResult[] RunOnOwnThreads(Client[] clients, int block)
    {
        var results = new RoundResult[clients.Length];
        var threads = clients.Select((c, i) => new Thread(() => results[i] = c.RunRound(block)) { Name = "load-register send" }).ToArray();
        foreach (var t in threads) t.Start();
        foreach (var t in threads) t.Join();
        return results;
    }

    private static string Invariant(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);

    private sealed record RoundResult(long Sent, long Notified, long Stalls, long BadMac);

    /// <summary>One registrant: its own address (127.11.0.x), its slice of the EIDs, its window.</summary>
    private sealed class Client : IDisposable
    {
        private readonly Socket _socket;
        private readonly LoadSettings _settings;
        private readonly byte[] _template;
        private readonly int _eidOffset;
        private readonly int _authLength;
        private readonly int _index;
        private readonly byte[] _secret;
        private readonly int _count;
        private readonly SemaphoreSlim _window;
        private readonly int _fd;
        private ulong _nonce;

        public Client(int index, LoadSettings settings, IPEndPoint target)
        {
            _settings = settings;
            _index = index;
            _secret = Encoding.UTF8.GetBytes(settings.Key);
            // Nonces grow across driver runs too: a server that outlives one run must not take the next for replays.
            _nonce = (ulong)DateTime.UtcNow.Ticks;
            _socket = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp) { ReceiveBufferSize = 4 << 20, SendBufferSize = 4 << 20 };
            var address = settings.Sources.Count > 0 ? settings.Sources[index]
                : IPAddress.IsLoopback(target.Address) ? IPAddress.Parse(Invariant($"127.11.0.{index + 1}")) : IPAddress.Any;
            _socket.Bind(new IPEndPoint(address, 0));
            // Connected, as an xTR's socket to its one Map-Server may be: the kernel keeps the route instead of looking it up per datagram.
            _socket.Connect(target);
            _fd = (int)_socket.SafeHandle.DangerousGetHandle(); // the socket outlives every round
            _window = new SemaphoreSlim(settings.Window, int.MaxValue);
            _count = settings.Eids / settings.Sockets + (index < settings.Eids % settings.Sockets ? 1 : 0);

            // One signed template; each datagram patches its EID and nonce and re-signs.
            var marker = LispAddress.Parse("10.123.45.67");
            var register = new MapRegister
            {
                Nonce = 0, KeyId = settings.KeyId, Algorithm = settings.Algorithm, WantMapNotify = true,
                Records = [new MappingRecord { Eid = EidPrefix.Host(marker), Ttl = 1440, Locators = [new Locator(LispAddress.FromIPAddress(address.Equals(IPAddress.Any) ? IPAddress.Loopback : address))] }],
            };
            _template = register.ToArray();
            _authLength = register.AuthenticationLength;
            Span<byte> markerBytes = stackalloc byte[4];
            BinaryPrimitives.WriteUInt32BigEndian(markerBytes, marker.IPv4Value);
            _eidOffset = _template.AsSpan().IndexOf(markerBytes);
        }

        /// <summary>First EID of this socket's slice of block <paramref name="block"/> (10.0.0.0/8 holds 160 blocks of 100,000).</summary>
        private uint FirstEid(int block) => 0x0A000000u + (uint)(block * (_settings.Eids + _settings.Sockets)) + (uint)(_index * (_settings.Eids / _settings.Sockets + 1)) + 1;

        public RoundResult RunRound(int block)
        {
            var firstEid = FirstEid(block);
            long notified = 0, stalls = 0, badMac = 0;
            var done = new ManualResetEventSlim();
            var receiver = new Thread(() =>
            {
                // One recvmmsg takes every Map-Notify already queued; their window credits go back together.
                using var batch = new MessageBatch(Batch, 2048);
                _socket.ReceiveTimeout = 1000;
                while (Interlocked.Read(ref notified) < _count)
                {
                    var n = batch.Receive(_fd, out var errno);
                    if (n <= 0)
                    {
                        if (n < 0 && MessageBatch.ToSocketError(errno) is not (SocketError.WouldBlock or SocketError.Interrupted)) throw new SocketException((int)MessageBatch.ToSocketError(errno));
                        if (done.IsSet) break;
                        continue;
                    }

                    for (var k = 0; k < n; k++)
                    {
                        var seen = Interlocked.Increment(ref notified);
                        if (seen % 997 == 0 && !VerifyNotify(batch.Payload(k), _secret)) Interlocked.Increment(ref badMac);
                    }

                    _window.Release(n);
                }
            }) { IsBackground = true, Name = "load-register receive" };
            receiver.Start();

            using var outgoing = new MessageBatch(Batch, _template.Length);
            var datagram = new byte[_template.Length];
            for (var i = 0; i < _count;)
            {
                if (!_window.Wait(500))
                {
                    // Datagrams of the window were lost: give their credits back and go on, counting the stall.
                    stalls++;
                    _window.Release(_settings.Window);
                    _window.Wait();
                }

                // One credit waited for, then as many as are free without waiting: one sendmmsg for all of them.
                var credits = 1;
                while (credits < Batch && i + credits < _count && _window.Wait(0)) credits++;
                for (var k = 0; k < credits; k++, i++)
                {
                    _template.CopyTo(datagram.AsSpan());
                    BinaryPrimitives.WriteUInt32BigEndian(datagram.AsSpan(_eidOffset), firstEid + (uint)i);
                    var nonce = ++_nonce;
                    BinaryPrimitives.WriteUInt64BigEndian(datagram.AsSpan(4), nonce);
                    LispAuthentication.Sign(datagram, AuthOffset, _authLength, _settings.Algorithm, _secret, nonce, AuthPurpose.MapRegister);
                    outgoing.TryAdd(datagram, address: default);
                }

                for (var start = 0; start < outgoing.Count;)
                {
                    var n = outgoing.Send(_fd, start, out var errno);
                    if (n < 0) throw new SocketException((int)MessageBatch.ToSocketError(errno));
                    start += n;
                }

                outgoing.Clear();
            }

            done.Set();
            receiver.Join();
            while (_window.CurrentCount < _settings.Window) _window.Release();
            while (_window.CurrentCount > _settings.Window) _window.Wait();
            done.Dispose();
            return new RoundResult(_count, Interlocked.Read(ref notified), stalls, Interlocked.Read(ref badMac));
        }

        private static bool VerifyNotify(ReadOnlySpan<byte> datagram, byte[] secret) =>
            MapNotify.TryReadView(datagram, out var view, out _) && view.VerifyAuthentication(secret, AuthPurpose.MapNotify) && view.RecordCount == 1;

        public void Dispose()
        {
            _socket.Dispose();
            _window.Dispose();
        }
    }

    private sealed record LoadSettings(int Eids, string Pattern, int Sockets, int Window, int ServerLoops, IPEndPoint? Server, int? Pid,
        AuthAlgorithm Algorithm, byte KeyId, string Key, IReadOnlyList<IPAddress> Sources)
    {
        public static LoadSettings? Parse(string[] args, out string? problem)
        {
            problem = null;
            var s = new LoadSettings(100_000, "nrrrr", 2, 256, Environment.ProcessorCount, null, null, AuthAlgorithm.HmacSha256_128, 1, "load-register-secret", []);
            if (args.Length % 2 != 0) return null;
            for (var i = 0; i < args.Length; i += 2)
            {
                var text = args[i + 1];
                var number = int.TryParse(text, CultureInfo.InvariantCulture, out var v) && v >= 1 ? v : (int?)null;
                switch (args[i])
                {
                    case "--eids" when number is { } n: s = s with { Eids = n }; break;
                    case "--rounds" when number is { } n: s = s with { Pattern = "n" + new string('r', n - 1) }; break;
                    case "--pattern" when text.Length > 0 && text.All(c => c is 'n' or 'r'): s = s with { Pattern = text }; break;
                    case "--sockets" when number is { } n: s = s with { Sockets = Math.Min(n, 250) }; break;
                    case "--window" when number is { } n: s = s with { Window = n }; break;
                    case "--server-loops" when number is { } n: s = s with { ServerLoops = n }; break;
                    case "--pid" when number is { } n: s = s with { Pid = n }; break;
                    case "--key-id" when int.TryParse(text, CultureInfo.InvariantCulture, out var id) && id is >= 0 and <= 255: s = s with { KeyId = (byte)id }; break;
                    case "--key" when text.Length > 0: s = s with { Key = text }; break;
                    case "--algorithm" when text is "sha1" or "sha256":
                        s = s with { Algorithm = text == "sha1" ? AuthAlgorithm.HmacSha1_96 : AuthAlgorithm.HmacSha256_128 };
                        break;
                    case "--server" when IPEndPoint.TryParse(text, out var ep):
                        if (ep.Port == 0) ep.Port = 4342;
                        s = s with { Server = ep };
                        break;
                    case "--source":
                        var sources = new List<IPAddress>();
                        foreach (var a in text.Split(','))
                        {
                            if (!IPAddress.TryParse(a, out var address)) return null;
                            sources.Add(address);
                        }

                        s = s with { Sources = sources };
                        break;
                    default:
                        problem = $"bad option or value: {args[i]} {text}";
                        return null;
                }
            }

            if (s.Sources.Count > 0 && s.Sources.Count < s.Sockets) problem = $"--source names {s.Sources.Count} addresses for {s.Sockets} sockets";
            // One registrant address, several sockets: their nonces would interleave and the server would take the late ones for replays.
            else if (s.Server is { } server && !IPAddress.IsLoopback(server.Address) && s.Sources.Count == 0 && s.Sockets > 1) problem = "a server not on loopback needs --source with one address a socket (or --sockets 1)";
            else if (s.Server is null && s.Pid is not null) problem = "--pid is for an external --server";
            return problem is null ? s : null;
        }
    }
}
