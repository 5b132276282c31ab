namespace LispMobility.LinkEmulator;

/// <summary>
/// Serves one NFQUEUE queue: the receive loop decides each packet at once (drop now, or hold), a release thread answers
/// NF_ACCEPT when a held packet is due, so a slow verdict never stalls the reading of new packets.
/// </summary>
public sealed class NfQueueEmulator(LinkEmulatorOptions options, TextWriter output, TextWriter error, TimeProvider time)
{
    private const byte AfInet = 2;
    private const int ReceiveBuffer = 8 << 20;
    private const uint BindSequence = 1;
    private const int ReportedVerdictErrors = 10;

    private readonly object _gate = new(); // Monitor, for Wait and Pulse
    private readonly LinkImpairment _impairment = new(options.Delay, options.LossPercent, options.Seed is { } s ? new Random(s) : new Random());
    private readonly long _start = time.GetTimestamp();
    private NfQueueSocket? _socket;
    private bool _stopping;
    private long _seen, _dropped, _accepted, _overruns, _verdictErrors;

    /// <summary>Binds the queue and serves it until <paramref name="stop"/>; 0 after a stop, 1 when the queue cannot be served.</summary>
    public int Run(CancellationToken stop)
    {
        try
        {
            _socket = new NfQueueSocket(ReceiveBuffer, TimeSpan.FromMilliseconds(500));
        }
        catch (IOException e)
        {
            error.WriteLine($"link emulator: {e.Message}");
            return 1;
        }

        using var socket = _socket;
        if (!Bind(socket)) return 1;
        output.WriteLine($"link emulator: queue {options.Queue} bound, delay {options.Delay.TotalMilliseconds} ms, loss {options.LossPercent} %");

        var release = new Thread(ReleaseLoop) { IsBackground = true, Name = "release" };
        release.Start();
        var status = ReceiveLoop(socket, stop);
        lock (_gate)
        {
            _stopping = true;
            Monitor.PulseAll(_gate);
        }

        release.Join();
        output.WriteLine($"link emulator: queue {options.Queue} stopped: {_seen} packets, {_dropped} dropped, {_accepted} accepted, " +
            $"{_impairment.Held} still held (the kernel drops them), {_overruns} ENOBUFS, {_verdictErrors} refused verdicts");
        return status;
    }

    private bool Bind(NfQueueSocket socket)
    {
        var sent = socket.Send(NfQueueMessage.Bind(options.Queue, AfInet, options.MaxLength, BindSequence));
        if (sent != 0)
        {
            error.WriteLine($"link emulator: binding queue {options.Queue}: {NfQueueSocket.Describe(sent)}");
            return false;
        }

        var buffer = new byte[8192];
        var events = new List<NfQueueEvent>();
        for (var attempt = 0; attempt < 10; attempt++)
        {
            var length = socket.Receive(buffer, out var errno);
            if (length < 0)
            {
                if (errno is NfQueueSocket.Eagain or NfQueueSocket.Eintr) continue;
                error.WriteLine($"link emulator: binding queue {options.Queue}: {NfQueueSocket.Describe(errno)}");
                return false;
            }

            events.Clear();
            NfQueueMessage.Read(buffer.AsSpan(0, length), events);
            foreach (var e in events.Where(e => e.Sequence == BindSequence))
            {
                if (e.Kind == NfQueueEventKind.Ack) return true;
                if (e.Kind != NfQueueEventKind.Error) continue;
                // EBUSY: another process serves this queue in this namespace.
                error.WriteLine($"link emulator: the kernel refused to bind queue {options.Queue}: {NfQueueSocket.Describe(e.Errno)}");
                return false;
            }
        }

        error.WriteLine($"link emulator: no answer from the kernel to binding queue {options.Queue} within 5 s");
        return false;
    }

    private int ReceiveLoop(NfQueueSocket socket, CancellationToken stop)
    {
        var buffer = new byte[64 * 1024];
        var events = new List<NfQueueEvent>();
        while (!stop.IsCancellationRequested)
        {
            var length = socket.Receive(buffer, out var errno);
            if (length < 0)
            {
                if (errno is NfQueueSocket.Eagain or NfQueueSocket.Eintr) continue;
                if (errno == NfQueueSocket.Enobufs)
                {
                    // The socket overflowed: the kernel still holds those packets and drops them when the queue goes.
                    _overruns++;
                    error.WriteLine($"link emulator: ENOBUFS on queue {options.Queue} ({_overruns} so far): queued packets were not delivered to us");
                    continue;
                }

                error.WriteLine($"link emulator: receiving from queue {options.Queue}: {NfQueueSocket.Describe(errno)}");
                return 1;
            }

            events.Clear();
            NfQueueMessage.Read(buffer.AsSpan(0, length), events);
            foreach (var e in events) Handle(socket, e);
        }

        return 0;
    }

    private void Handle(NfQueueSocket socket, NfQueueEvent e)
    {
        switch (e.Kind)
        {
            case NfQueueEventKind.Packet:
                bool held;
                lock (_gate)
                {
                    _seen++;
                    held = _impairment.Admit(e.PacketId, Now());
                    if (held) Monitor.Pulse(_gate);
                }

                if (!held)
                {
                    Interlocked.Increment(ref _dropped);
                    Verdict(socket, e.PacketId, NfQueueMessage.NfDrop);
                }

                break;
            case NfQueueEventKind.Error:
                // A refused verdict (ENOENT: the packet id is unknown, e.g. the kernel flushed the queue).
                if (Interlocked.Increment(ref _verdictErrors) <= ReportedVerdictErrors)
                    error.WriteLine($"link emulator: the kernel refused a message on queue {options.Queue}: {NfQueueSocket.Describe(e.Errno)}");
                break;
            case NfQueueEventKind.Malformed:
                error.WriteLine($"link emulator: a malformed netlink message on queue {options.Queue} was skipped");
                break;
            default:
                break;
        }
    }

    private void ReleaseLoop()
    {
        var due = new List<uint>();
        while (true)
        {
            lock (_gate)
            {
                while (due.Count == 0)
                {
                    if (_stopping) return;
                    var next = _impairment.Release(Now(), due);
                    if (due.Count > 0) break;
                    var wait = next is { } n ? n - Now() : Timeout.InfiniteTimeSpan;
                    if (next is not null && wait <= TimeSpan.Zero) continue;
                    // Rounded up: waking a millisecond early would only spin.
                    Monitor.Wait(_gate, next is null ? Timeout.InfiniteTimeSpan : TimeSpan.FromMilliseconds(Math.Ceiling(wait.TotalMilliseconds)));
                }
            }

            foreach (var id in due) Verdict(_socket!, id, NfQueueMessage.NfAccept);
            Interlocked.Add(ref _accepted, due.Count);
            due.Clear();
        }
    }

    private void Verdict(NfQueueSocket socket, uint packetId, uint verdict)
    {
        var errno = socket.Send(NfQueueMessage.Verdict(options.Queue, packetId, verdict));
        if (errno != 0 && Interlocked.Increment(ref _verdictErrors) <= ReportedVerdictErrors)
            error.WriteLine($"link emulator: sending the verdict for packet {packetId} on queue {options.Queue}: {NfQueueSocket.Describe(errno)}");
    }

    private TimeSpan Now() => time.GetElapsedTime(_start);
}
