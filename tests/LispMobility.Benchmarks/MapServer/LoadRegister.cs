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
using LispMobility.Transport;
using Microsoft.Extensions.Logging.Abstractions;

namespace LispMobility.Benchmarks.MapServer;

/// <summary>
/// Load driver of the Map-Server: authenticated (HMAC-SHA-256) Map-Registers with the M bit for distinct
/// /32 EIDs from several sockets (each its own registrant address), a window of requests in flight per
/// socket, Map-Notifies counted and a sample verified. The server runs in this process, so that the
/// managed heap holding the registrations can be measured.
/// </summary>
internal static class LoadRegister
{
    // Type/flags, record count, nonce, key-id, algorithm, auth length: the MAC starts at byte 16 (RFC 9301 §5.6).
    private const int AuthOffset = 16;
    private const int Batch = 64; // datagrams per sendmmsg/recvmmsg, like the server's transport
    private static readonly byte[] Secret = Encoding.UTF8.GetBytes("load-register-secret");

    /// <summary>Parses the arguments, runs the rounds, prints the results; returns the process exit code.</summary>
    public static async Task<int> RunAsync(string[] args)
    {
        var settings = LoadSettings.Parse(args);
        if (settings is null)
        {
            Console.Error.WriteLine("usage: load-register [--eids 100000] [--rounds 5] [--sockets 2] [--window 256] [--server-loops N]");
            return 2;
        }

        Console.WriteLine(Invariant($"load-register: {settings.Eids} EIDs, {settings.Rounds} rounds, {settings.Sockets} sockets x window {settings.Window}, server loops {settings.ServerLoops}, {Environment.ProcessorCount} cores, GC {(System.Runtime.GCSettings.IsServerGC ? "server" : "workstation")}"));
        var options = new MapServerOptions
        {
            Listen = ["127.0.0.1:0"],
            MapNotifyPort = 0,
            Sites = [new SiteOptions { Name = "bench", EidPrefixes = [new() { Prefix = "10.0.0.0/8", AcceptMoreSpecifics = true }], Keys = [new() { KeyId = 1, Algorithm = AuthAlgorithm.HmacSha256_128, Key = "load-register-secret" }] }],
            RequestBurstPerRequester = 1000,
        };

        var heapBefore = GC.GetTotalMemory(forceFullCollection: true);
        var server = new LispMobility.MappingSystem.MapServer(options);
        await using var transport = new UdpDatagramTransport(server, [IPEndPoint.Parse(options.Listen[0])], NullLogger<UdpDatagramTransport>.Instance, settings.ServerLoops);
        transport.Start();
        var target = transport.LocalEndpoints[0];

        var clients = Enumerable.Range(0, settings.Sockets).Select(i => new Client(i, settings, target)).ToArray();
        var exit = 0;
        try
        {
            for (var round = 1; round <= settings.Rounds; round++)
            {
                var cpu = Process.GetCurrentProcess().TotalProcessorTime;
                var gcs = GC.CollectionCount(0);
                var clock = Stopwatch.StartNew();
                var results = RunOnOwnThreads(clients);
                clock.Stop();
                var cpuUsed = Process.GetCurrentProcess().TotalProcessorTime - cpu;
                var sent = results.Sum(r => r.Sent);
                var notified = results.Sum(r => r.Notified);
                var badMac = results.Sum(r => r.BadMac);
                Console.WriteLine(Invariant($"round {round}: {sent} registers in {clock.Elapsed.TotalMilliseconds:F0} ms = {notified / clock.Elapsed.TotalSeconds:F0} registrations/s; ") + Invariant($"Map-Notifies {notified}, lost {sent - notified}, stalls {results.Sum(r => r.Stalls)}, bad MAC in sample {badMac}; ") + Invariant($"CPU {cpuUsed.TotalMilliseconds / clock.Elapsed.TotalMilliseconds * 100:F0}% of one core = {cpuUsed.TotalMilliseconds * 1000 / Math.Max(1, notified):F1} µs per registration (driver and server), gen0 GCs {GC.CollectionCount(0) - gcs}"));
                if (badMac > 0) exit = 1;
                if (round == 1)
                {
                    var heap = GC.GetTotalMemory(forceFullCollection: true);
                    Console.WriteLine(Invariant(
                        $"live registrations {server.RegistrationCount}: managed heap {heap / 1048576.0:F1} MB ({(heap - heapBefore) / 1048576.0:F1} MB above the heap before the server was built)"));
                }
            }

            var c = server.Counters;
            Console.WriteLine(Invariant($"server: accepted {c.RegistersAccepted}, Map-Notifies {c.MapNotifiesSent}, rejected {string.Join(", ", c.RejectedByReason().Where(r => r.Value > 0).Select(r => $"{r.Key} {r.Value}"))}; ") + Invariant($"transport received {transport.Received}, sent {transport.Sent}, send errors {transport.SendErrors}"));
        }
        finally
        {
            foreach (var client in clients) client.Dispose();
        }

        return exit;
    }

    // The clients block; on pool threads they would starve the server's receive loops until the pool grew.
    private static RoundResult[] RunOnOwnThreads(Client[] clients)
    {
        var results = new RoundResult[clients.Length];
        var threads = clients.Select((c, i) => new Thread(() => results[i] = c.RunRound()) { Name = "load-register send" }).ToArray();
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
        private readonly uint _firstEid;
        private readonly int _count;
        private readonly SemaphoreSlim _window;
        private readonly int _fd;
        private ulong _nonce;

        public Client(int index, LoadSettings settings, IPEndPoint target)
        {
            _settings = settings;
            _socket = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp) { ReceiveBufferSize = 4 << 20, SendBufferSize = 4 << 20 };
            var address = IPAddress.Parse(Invariant($"127.11.0.{index + 1}"));
            _socket.Bind(new IPEndPoint(address, 0));
            // Connected, as an xTR's socket to its one Map-Server may be: the kernel keeps the route instead of looking it up per datagram.
            _socket.Connect(target);
            _fd = (int)_socket.SafeHandle.DangerousGetHandle(); // the socket outlives every round
            _window = new SemaphoreSlim(settings.Window, int.MaxValue);
            _count = settings.Eids / settings.Sockets + (index < settings.Eids % settings.Sockets ? 1 : 0);
            _firstEid = 0x0A000000u + (uint)(index * (settings.Eids / settings.Sockets + 1)) + 1;

            // One signed template; each datagram patches its EID and nonce and re-signs.
            var marker = LispAddress.Parse("10.123.45.67");
            var register = new MapRegister
            {
                Nonce = 0, KeyId = 1, Algorithm = AuthAlgorithm.HmacSha256_128, WantMapNotify = true,
                Records = [new MappingRecord { Eid = EidPrefix.Host(marker), Ttl = 1440, Locators = [new Locator(LispAddress.FromIPAddress(address))] }],
            };
            _template = register.ToArray();
            _authLength = register.AuthenticationLength;
            Span<byte> markerBytes = stackalloc byte[4];
            BinaryPrimitives.WriteUInt32BigEndian(markerBytes, marker.IPv4Value);
            _eidOffset = _template.AsSpan().IndexOf(markerBytes);
        }

        public RoundResult RunRound()
        {
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
                        if (seen % 997 == 0 && !VerifyNotify(batch.Payload(k))) Interlocked.Increment(ref badMac);
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
                    BinaryPrimitives.WriteUInt32BigEndian(datagram.AsSpan(_eidOffset), _firstEid + (uint)i);
                    var nonce = ++_nonce;
                    BinaryPrimitives.WriteUInt64BigEndian(datagram.AsSpan(4), nonce);
                    LispAuthentication.Sign(datagram, AuthOffset, _authLength, AuthAlgorithm.HmacSha256_128, Secret, nonce, AuthPurpose.MapRegister);
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

        private static bool VerifyNotify(ReadOnlySpan<byte> datagram) =>
            MapNotify.TryReadView(datagram, out var view, out _) && view.VerifyAuthentication(Secret, AuthPurpose.MapNotify) && view.RecordCount == 1;

        public void Dispose()
        {
            _socket.Dispose();
            _window.Dispose();
        }
    }

    private sealed record LoadSettings(int Eids, int Rounds, int Sockets, int Window, int ServerLoops)
    {
        public static LoadSettings? Parse(string[] args)
        {
            var s = new LoadSettings(100_000, 5, 2, 256, Environment.ProcessorCount);
            for (var i = 0; i + 1 < args.Length; i += 2)
            {
                if (!int.TryParse(args[i + 1], CultureInfo.InvariantCulture, out var v) || v < 1) return null;
                s = args[i] switch
                {
                    "--eids" => s with { Eids = v },
                    "--rounds" => s with { Rounds = v },
                    "--sockets" => s with { Sockets = Math.Min(v, 250) },
                    "--window" => s with { Window = v },
                    "--server-loops" => s with { ServerLoops = v },
                    _ => null,
                };
                if (s is null) return null;
            }

            return args.Length % 2 == 0 ? s : null;
        }
    }
}
