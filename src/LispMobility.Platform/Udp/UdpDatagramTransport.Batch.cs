using System.Net;
using System.Net.Sockets;

namespace LispMobility.Platform;

public sealed partial class UdpDatagramTransport
{
    // Up to this many datagrams per recvmmsg; their replies leave together in sendmmsg calls.
    private const int BatchSize = 64;
    private const int ReplySlot = 2048;
    private const int ENOSYS = 38;

    /// <summary>Linux receive loop: one <c>recvmmsg</c> per batch, the batch's replies in one <c>sendmmsg</c>, each datagram to the engine in arrival order.</summary>
    private void BatchReceiveLoop(Socket socket)
    {
        var handle = socket.SafeHandle;
        var added = false;
        try
        {
            handle.DangerousAddRef(ref added);
        }
        catch (ObjectDisposedException)
        {
            return;
        }

        // The reference keeps the descriptor from being closed and reused while a raw syscall may be using it.
        bool supported;
        try
        {
            supported = RunBatches(socket, (int)handle.DangerousGetHandle());
        }
        finally
        {
            if (added) handle.DangerousRelease();
        }

        if (!supported) ReceiveLoop(socket);
    }

    // False when the kernel or libc lacks recvmmsg, for the per-datagram loop to take over.
    private bool RunBatches(Socket socket, int fd)
    {
        MessageBatch received, replies;
        try
        {
            received = new MessageBatch(BatchSize, MaxDatagram);
        }
        catch (OutOfMemoryException)
        {
            return false;
        }

        using (received)
        using (replies = new MessageBatch(2 * BatchSize, ReplySlot, segment: true))
        {
            var family = socket.AddressFamily;
            var outgoing = new DatagramList();
            var targets = new IPEndPoint[replies.Capacity];
            var lookup = new SocketAddress(family);
            var sources = new Dictionary<SocketAddress, IPEndPoint>();
            var destinations = new Dictionary<IPEndPoint, SocketAddress>();
            EndPoint template = family == AddressFamily.InterNetworkV6 ? new IPEndPoint(IPAddress.IPv6Any, 0) : new IPEndPoint(IPAddress.Any, 0);
            socket.ReceiveTimeout = 500; // to notice a stop even where closing does not wake a blocked receive
            while (!_stop.IsCancellationRequested)
            {
                int n;
                int errno;
                try
                {
                    n = received.Receive(fd, out errno);
                }
                catch (Exception e) when (e is EntryPointNotFoundException or DllNotFoundException)
                {
                    return false;
                }

                // A receive woken by the shutdown at stop returns nothing from nobody.
                if (_stop.IsCancellationRequested) break;
                if (n < 0)
                {
                    if (errno == ENOSYS) return false;
                    var error = MessageBatch.ToSocketError(errno);
                    if (error is SocketError.OperationAborted or SocketError.NotSocket) break;

                    // A timeout is the stop check; ICMP port-unreachable from an earlier send surfaces here: not fatal.
                    if (error is not (SocketError.WouldBlock or SocketError.Interrupted)) LogReceiveError(error);
                    continue;
                }

                for (var i = 0; i < n; i++)
                {
                    var address = received.Address(i);
                    if (address.Length < MinAddressSize(family) || address.Length > lookup.Buffer.Length) continue;
                    if (received.Truncated(i))
                    {
                        LogReceiveError(SocketError.MessageSize);
                        continue;
                    }

                    address.CopyTo(lookup.Buffer.Span);
                    lookup.Size = address.Length;
                    if (!sources.TryGetValue(lookup, out var source))
                    {
                        if (sources.Count >= MaxCachedEndpoints) sources.Clear();
                        source = (IPEndPoint)template.Create(lookup);
                        var key = new SocketAddress(family, lookup.Size);
                        address.CopyTo(key.Buffer.Span);
                        sources[key] = source;
                    }

                    Interlocked.Increment(ref _received);
                    try
                    {
                        _engine.Receive(received.Payload(i), source, outgoing);
                    }
                    catch (Exception e) when (e is not OutOfMemoryException)
                    {
                        Interlocked.Increment(ref _engineFaults);
                        LogEngineFault(e, source.ToString());
                    }

                    Queue(outgoing, socket, fd, replies, targets, destinations);
                }

                SendBatch(fd, replies, targets);
            }
        }

        return true;
    }

    // Copies the engine's replies into the batch (an engine may reuse its buffers on the next call); another family, or a
    // payload larger than a slot, goes out at once after what is queued, so a destination still gets its datagrams in order.
    private void Queue(DatagramList outgoing, Socket socket, int fd, MessageBatch replies, IPEndPoint[] targets, Dictionary<IPEndPoint, SocketAddress> destinations)
    {
        foreach (var d in outgoing.Items)
        {
            if (d.Destination.AddressFamily != socket.AddressFamily)
            {
                SendNow(d.Payload.Span, d.Destination);
                continue;
            }

            var address = AddressOf(d.Destination, destinations);
            var sockaddr = address.Buffer.Span[..address.Size];
            if (replies.TryAdd(d.Payload.Span, sockaddr))
            {
                targets[replies.Count - 1] = d.Destination;
                continue;
            }

            SendBatch(fd, replies, targets);
            if (replies.TryAdd(d.Payload.Span, sockaddr)) targets[replies.Count - 1] = d.Destination;
            else SendNow(d.Payload.Span, d.Destination, socket, address);
        }

        outgoing.Clear();
    }

    private void SendBatch(int fd, MessageBatch replies, IPEndPoint[] targets)
    {
        var segmenting = replies.Segmenting;
        var segmented = replies.SegmentedSends;
        var start = 0;
        while (start < replies.Count)
        {
            var n = replies.Send(fd, start, out var errno);
            if (n > 0)
            {
                Interlocked.Add(ref _sent, n);
                start += n;
                continue;
            }

            var error = MessageBatch.ToSocketError(errno);
            if (error == SocketError.Interrupted) continue;
            if (error is SocketError.OperationAborted or SocketError.NotSocket) break; // shutting down

            // The datagram at start failed (unreachable, no route, refused by a firewall): it is lost, the rest still go.
            Interlocked.Increment(ref _sendErrors);
            LogSendError(targets[start].ToString(), error);
            start++;
        }

        Interlocked.Add(ref _segmentedSends, replies.SegmentedSends - segmented);
        if (segmenting && !replies.Segmenting) LogSegmentationRefused(MessageBatch.ToSocketError(replies.SegmentationRefused), replies.SegmentationRefused);
        replies.Clear();
        Array.Clear(targets);
    }
}
