using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using LispMobility.IntegrationTests.Lab;
using LispMobility.LinkEmulator;
using Xunit.Abstractions;

namespace LispMobility.IntegrationTests;

/// <summary>
/// The lab's netem stand-in: its nfnetlink_queue messages against the layouts of linux/netfilter/nfnetlink_queue.h
/// (netlink headers in host order: these vectors are for little-endian machines, as every CI runner is), its impairment
/// core with a hand-driven clock, and the real tool on UDP through a namespace pair.
/// </summary>
public sealed class LinkEmulatorTests(ITestOutputHelper output)
{
    [Fact]
    public void Bind_is_one_config_message_with_the_bind_command_metadata_copy_mode_and_queue_length()
    {
        var message = NfQueueMessage.Bind(queue: 258, family: 2, maxLength: 4096, sequence: 7);

        Assert.Equal(
            "30000000" + "0203" + "0500" + "07000000" + "00000000" // nlmsghdr: 48 bytes, NFQNL_MSG_CONFIG, REQUEST|ACK, seq 7
            + "02000102" // nfgenmsg: AF_INET, NFNETLINK_V0, queue 258 big-endian
            + "08000100" + "01000002" // NFQA_CFG_CMD: BIND, pad, pf AF_INET big-endian
            + "09000200" + "0000000001" + "000000" // NFQA_CFG_PARAMS: copy_range 0, NFQNL_COPY_META, padding
            + "08000300" + "00001000", // NFQA_CFG_QUEUE_MAXLEN 4096
            Convert.ToHexStringLower(message));
    }

    [Fact]
    public void Verdict_names_the_packet_and_the_verdict_big_endian()
    {
        var accept = NfQueueMessage.Verdict(queue: 258, packetId: 0xDEADBEEF, NfQueueMessage.NfAccept);
        var drop = NfQueueMessage.Verdict(queue: 0, packetId: 5, NfQueueMessage.NfDrop);

        Assert.Equal("20000000" + "0103" + "0100" + "00000000" + "00000000" + "00000102" + "0c000200" + "00000001" + "deadbeef",
            Convert.ToHexStringLower(accept));
        Assert.Equal("20000000" + "0103" + "0100" + "00000000" + "00000000" + "00000000" + "0c000200" + "00000000" + "00000005",
            Convert.ToHexStringLower(drop));
    }

    // A packet (interface attribute first, then NFQA_PACKET_HDR id 42), an ACK of request 1, EBUSY for request 2.
    private static readonly byte[] ThreeMessages = Convert.FromHexString(
        "28000000" + "0003" + "0000" + "00000000" + "00000000" + "02000000"
        + "08000600" + "00000003" // NFQA_IFINDEX_OUTDEV 3
        + "0b000100" + "0000002a" + "0800" + "03" + "00" // NFQA_PACKET_HDR: id 42, IPv4, NF_INET_LOCAL_OUT, padding
        + "24000000" + "0200" + "0001" + "01000000" + "00000000" + "00000000" + "20000000" + "0203" + "0500" + "01000000" + "00000000"
        + "24000000" + "0200" + "0000" + "02000000" + "00000000" + "f0ffffff" + "20000000" + "0203" + "0500" + "02000000" + "00000000");

    [Fact]
    public void Read_takes_the_packet_id_from_the_packet_header_and_the_errno_of_acknowledgements()
    {
        var events = new List<NfQueueEvent>();
        NfQueueMessage.Read(ThreeMessages, events);

        Assert.Equal(
        [
            new NfQueueEvent(NfQueueEventKind.Packet, PacketId: 42),
            new NfQueueEvent(NfQueueEventKind.Ack, Sequence: 1),
            new NfQueueEvent(NfQueueEventKind.Error, Errno: 16, Sequence: 2),
        ], events);
    }

    [Fact]
    public void Read_of_a_truncated_packet_message_never_yields_a_packet_id()
    {
        var packet = ThreeMessages.AsSpan(0, 40).ToArray();
        for (var length = 0; length < packet.Length; length++)
        {
            var truncated = packet.AsSpan(0, length).ToArray();
            // The declared length still says 40: what a reader must not trust.
            var events = new List<NfQueueEvent>();
            NfQueueMessage.Read(truncated, events);
            Assert.DoesNotContain(events, e => e.Kind == NfQueueEventKind.Packet);
            if (length >= NfQueueMessage.NetlinkHeaderLength) Assert.Equal([new NfQueueEvent(NfQueueEventKind.Malformed)], events);
        }

        // A whole message whose packet header attribute is too short for its id.
        var shortHeader = (byte[])packet.Clone();
        shortHeader[28] = 6;
        var shortEvents = new List<NfQueueEvent>();
        NfQueueMessage.Read(shortHeader, shortEvents);
        Assert.Equal([new NfQueueEvent(NfQueueEventKind.Malformed)], shortEvents);
    }

    [Fact]
    public void Held_packets_are_released_in_arrival_order_when_their_delay_is_over_and_not_before()
    {
        var link = new LinkImpairment(TimeSpan.FromMilliseconds(50), lossPercent: 0, new Random(1));
        Assert.True(link.Admit(1, TimeSpan.FromMilliseconds(0)));
        Assert.True(link.Admit(2, TimeSpan.FromMilliseconds(10)));
        Assert.True(link.Admit(3, TimeSpan.FromMilliseconds(10)));
        var due = new List<uint>();

        Assert.Equal(TimeSpan.FromMilliseconds(50), link.Release(TimeSpan.FromMilliseconds(49.9), due));
        Assert.Empty(due);
        Assert.Equal(TimeSpan.FromMilliseconds(60), link.Release(TimeSpan.FromMilliseconds(50), due));
        Assert.Equal([1u], due);
        Assert.Null(link.Release(TimeSpan.FromMilliseconds(75), due));
        Assert.Equal([1u, 2u, 3u], due);
        Assert.Equal(0, link.Held);
    }

    [Fact]
    public void Loss_drops_about_the_configured_share_and_none_or_all_at_the_ends()
    {
        var link = new LinkImpairment(TimeSpan.Zero, lossPercent: 30, new Random(7));
        var dropped = Enumerable.Range(0, 10_000).Count(i => !link.Admit((uint)i, TimeSpan.Zero));
        Assert.InRange(dropped, 2_700, 3_300);
        Assert.All(Enumerable.Range(0, 100), i => Assert.True(new LinkImpairment(TimeSpan.Zero, 0, new Random(i)).Admit(1, TimeSpan.Zero)));
        Assert.All(Enumerable.Range(0, 100), i => Assert.False(new LinkImpairment(TimeSpan.Zero, 100, new Random(i)).Admit(1, TimeSpan.Zero)));
    }

    [Fact]
    public void Options_are_validated_at_once_each_error_naming_its_option()
    {
        var ok = LinkEmulatorOptions.Parse(["--queue", "3", "--delay-ms", "50", "--loss-percent", "30"], out var none);
        Assert.Empty(none);
        Assert.Equal(new LinkEmulatorOptions(3, TimeSpan.FromMilliseconds(50), 30, 4096, null), ok);

        LinkEmulatorOptions.Parse(["--queue", "70000", "--loss-percent", "abc", "--jitter", "5", "--delay-ms"], out var errors);
        Assert.Equal(
        [
            "--jitter: unknown option",
            "--delay-ms: needs a value",
            "--queue: 70000 is outside 0..65535",
            "--delay-ms: required",
            "--loss-percent: 'abc' is not a number",
        ], errors);
    }

    [Fact]
    public async Task The_emulator_delays_each_impaired_direction_by_the_delay_and_drops_about_the_loss()
    {
        await using var pair = await NamespacePair.CreateAsync();
        using var echo = new UdpEcho(pair.B, pair.AddressB);
        var baseline = UdpProbe.Run(pair.A, pair.AddressB, 50);
        output.WriteLine($"no impairment: {baseline}");
        Assert.Equal(50, baseline.Answered);
        Assert.True(baseline.MedianMs < 40, $"the namespace pair itself is slow: {baseline}");

        using var emulator = await LinkEmulatorProcess.StartAsync(pair.A, "--queue", "0", "--delay-ms", "50", "--loss-percent", "30");
        await pair.QueueAsync("OUTPUT", "-o");
        var one = UdpProbe.Run(pair.A, pair.AddressB, 400);
        output.WriteLine($"50 ms, 30 % out of A: {one}");
        // Bounds at about five standard deviations of a binomial of 400 with p = 0.7 (then 0.49): a wrong loss fails, chance does not.
        Assert.InRange(one.Answered, 232, 328);
        Assert.True(one.MinMs >= 49.5 && one.MedianMs < 50 + 60, $"one impaired direction: {one}");

        await pair.QueueAsync("INPUT", "-i");
        var both = UdpProbe.Run(pair.A, pair.AddressB, 400);
        output.WriteLine($"50 ms, 30 % out of and into A: {both}");
        Assert.InRange(both.Answered, 140, 252);
        Assert.True(both.MinMs >= 99.5 && both.MedianMs < 100 + 60, $"both directions impaired: {both}");
        Assert.True(emulator.IsRunning, emulator.Output);
    }

    [Fact]
    public async Task Without_a_running_emulator_queued_packets_are_dropped_never_passed()
    {
        await using var pair = await NamespacePair.CreateAsync();
        using var echo = new UdpEcho(pair.B, pair.AddressB);
        await pair.QueueAsync("OUTPUT", "-o");
        var r = UdpProbe.Run(pair.A, pair.AddressB, 20);
        Assert.Equal(0, r.Answered);
    }

    [Fact]
    public async Task A_second_emulator_on_a_bound_queue_exits_with_the_kernels_refusal()
    {
        await using var pair = await NamespacePair.CreateAsync();
        using var first = await LinkEmulatorProcess.StartAsync(pair.A, "--queue", "5", "--delay-ms", "1", "--loss-percent", "0");
        var second = await NetnsLab.RunAsync("ip", ["netns", "exec", pair.A, "dotnet", NetnsLab.LinkEmulatorDll, "--queue", "5", "--delay-ms", "1", "--loss-percent", "0"],
            TimeSpan.FromSeconds(30));
        Assert.Equal(1, second.ExitCode);
        Assert.Contains("the kernel refused to bind queue 5", second.Error, StringComparison.Ordinal);
        Assert.True(first.IsRunning, first.Output);
    }

    /// <summary>Two namespaces joined by a veth (A 10.77.0.1/24 on a0, B 10.77.0.2/24 on b0), deleted on dispose.</summary>
    private sealed class NamespacePair : IAsyncDisposable
    {
        private NamespacePair(string prefix) => (A, B) = (prefix + "-a", prefix + "-b");

        public string A { get; }

        public string B { get; }

        public IPAddress AddressB { get; } = IPAddress.Parse("10.77.0.2");

        public static async Task<NamespacePair> CreateAsync()
        {
            // The lab's prefix: a crashed run's leftovers are cleaned with the lab's.
            var pair = new NamespacePair(NetnsLab.NamePrefix + "emu" + Guid.NewGuid().ToString("N")[..4]);
            try
            {
                await IpAsync("netns", "add", pair.A);
                await IpAsync("netns", "add", pair.B);
                await IpAsync("-n", pair.A, "link", "add", "a0", "type", "veth", "peer", "name", "b0", "netns", pair.B);
                await IpAsync("-n", pair.A, "addr", "add", "10.77.0.1/24", "dev", "a0");
                await IpAsync("-n", pair.B, "addr", "add", "10.77.0.2/24", "dev", "b0");
                await IpAsync("-n", pair.A, "link", "set", "a0", "up");
                await IpAsync("-n", pair.B, "link", "set", "b0", "up");
                return pair;
            }
            catch
            {
                await pair.DisposeAsync();
                throw;
            }
        }

        /// <summary>Sends A's IPv4 through a0 in <paramref name="chain"/> to NFQUEUE 0, without bypass (as the lab does).</summary>
        public async Task QueueAsync(string chain, string direction)
        {
            var r = await NetnsLab.RunAsync("ip", ["netns", "exec", A, "iptables", "-w", "-A", chain, direction, "a0", "-j", "NFQUEUE", "--queue-num", "0"], TimeSpan.FromSeconds(10));
            if (r.ExitCode != 0) throw new InvalidOperationException($"iptables in {A}: {r}");
        }

        public async ValueTask DisposeAsync()
        {
            foreach (var ns in new[] { A, B })
            {
                var pids = await NetnsLab.RunAsync("ip", ["netns", "pids", ns], TimeSpan.FromSeconds(10));
                foreach (var pid in pids.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries)) await NetnsLab.RunAsync("kill", ["-KILL", pid.Trim()], TimeSpan.FromSeconds(10));
                await NetnsLab.RunAsync("ip", ["netns", "del", ns], TimeSpan.FromSeconds(10));
            }
        }

        private static async Task IpAsync(params string[] args)
        {
            var r = await NetnsLab.RunAsync("ip", args, TimeSpan.FromSeconds(10));
            if (r.ExitCode != 0) throw new InvalidOperationException($"ip {string.Join(' ', args)}: {r}");
        }
    }

    /// <summary>The real tool, started in a namespace the way the lab script starts it; ready once it reports the queue bound.</summary>
    private sealed class LinkEmulatorProcess : IDisposable
    {
        private readonly Process _process;
        private readonly System.Text.StringBuilder _output = new();

        private LinkEmulatorProcess(Process process) => _process = process;

        public bool IsRunning => !_process.HasExited;

        public string Output
        {
            get
            {
                lock (_output) return _output.ToString();
            }
        }

        public static async Task<LinkEmulatorProcess> StartAsync(string ns, params string[] args)
        {
            if (!File.Exists(NetnsLab.LinkEmulatorDll)) throw new FileNotFoundException("the link emulator was not built next to the tests", NetnsLab.LinkEmulatorDll);
            var psi = new ProcessStartInfo("ip") { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
            foreach (var a in (string[])["netns", "exec", ns, "dotnet", NetnsLab.LinkEmulatorDll, .. args]) psi.ArgumentList.Add(a);
            var emulator = new LinkEmulatorProcess(Process.Start(psi)!);
            var bound = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            void Line(object? sender, DataReceivedEventArgs e)
            {
                if (e.Data is null) return;
                lock (emulator._output) emulator._output.AppendLine(e.Data);
                if (e.Data.Contains("bound", StringComparison.Ordinal)) bound.TrySetResult();
            }

            emulator._process.OutputDataReceived += Line;
            emulator._process.ErrorDataReceived += Line;
            emulator._process.BeginOutputReadLine();
            emulator._process.BeginErrorReadLine();
            var exited = emulator._process.WaitForExitAsync();
            if (await Task.WhenAny(bound.Task, exited, Task.Delay(TimeSpan.FromSeconds(30))) != bound.Task)
            {
                emulator.Dispose();
                throw new InvalidOperationException($"the link emulator did not bind its queue in {ns}:\n{emulator.Output}");
            }

            return emulator;
        }

        public void Dispose()
        {
            if (!_process.HasExited) _process.Kill(entireProcessTree: true);
            _process.WaitForExit(5000);
            _process.Dispose();
        }
    }
}

/// <summary>Round trips through a link, UDP to a <see cref="UdpEcho"/>: what an impairment does, seen from outside.</summary>
internal static class UdpProbe
{
    /// <summary>Sends <paramref name="count"/> datagrams from namespace <paramref name="ns"/> to a <see cref="UdpEcho"/>, 5 ms apart, and times each answer.</summary>
    public static ProbeResult Run(string ns, IPAddress echo, int count)
    {
        using var socket = NamespaceSocket.Udp(ns);
        socket.ReceiveTimeout = 1500;
        var sent = new long[count];
        var rtts = new List<double>();
        var receiver = new Thread(() =>
        {
            var buffer = new byte[16];
            try
            {
                while (rtts.Count < count)
                {
                    var n = socket.Receive(buffer);
                    var now = Stopwatch.GetTimestamp();
                    if (n == 4 && BitConverter.ToInt32(buffer) is var i && i >= 0 && i < count) rtts.Add(Stopwatch.GetElapsedTime(sent[i], now).TotalMilliseconds);
                }
            }
            catch (SocketException)
            {
                // The receive timeout: everything that was coming has come.
            }
        });
        socket.Connect(new IPEndPoint(echo, UdpEcho.Port));
        receiver.Start();
        for (var i = 0; i < count; i++)
        {
            sent[i] = Stopwatch.GetTimestamp();
            socket.Send(BitConverter.GetBytes(i));
            Thread.Sleep(5);
        }

        receiver.Join();
        var sorted = rtts.Order().ToList();
        return new ProbeResult(sorted.Count, sorted.Count == 0 ? double.NaN : sorted[0], sorted.Count == 0 ? double.NaN : sorted[sorted.Count / 2]);
    }

    /// <summary>How many answers came back and their round-trip times.</summary>
    public sealed record ProbeResult(int Answered, double MinMs, double MedianMs)
    {
        /// <summary>For test output.</summary>
        public override string ToString() => $"{Answered} answered, RTT min {MinMs:0.0} ms, median {MedianMs:0.0} ms";
    }
}

/// <summary>Answers every datagram to its sender, inside a namespace, until disposed.</summary>
internal sealed class UdpEcho : IDisposable
{
    public const int Port = 9000;
    private readonly Socket _socket;
    private readonly Thread _thread;

    public UdpEcho(string ns, IPAddress address)
    {
        _socket = NamespaceSocket.Udp(ns);
        _socket.Bind(new IPEndPoint(address, Port));
        _thread = new Thread(() =>
        {
            var buffer = new byte[64];
            EndPoint from = new IPEndPoint(IPAddress.Any, 0);
            try
            {
                while (true)
                {
                    var n = _socket.ReceiveFrom(buffer, ref from);
                    _socket.SendTo(buffer.AsSpan(0, n), from);
                }
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException)
            {
                // Closed by Dispose.
            }
        }) { IsBackground = true };
        _thread.Start();
    }

    public void Dispose()
    {
        _socket.Dispose();
        _thread.Join(TimeSpan.FromSeconds(5));
    }
}
