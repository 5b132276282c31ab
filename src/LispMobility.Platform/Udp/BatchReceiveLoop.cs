using System.Net;
using System.Net.Sockets;

namespace LispMobility.Platform;

/// <summary>
/// The Linux receive loop of one socket of a <see cref="UdpDatagramTransport"/>: one <c>recvmmsg</c> per batch, each
/// datagram to the engine in arrival order, the batch's replies in <c>sendmmsg</c> calls (runs to one destination as UDP
/// GSO sends). It owns its native batches and endpoint caches; the transport owns the engine, the counters and the logs.
/// </summary>
internal sealed class BatchReceiveLoop(UdpDatagramTransport transport, Socket socket)
{
    // Up to this many datagrams per recvmmsg; their replies leave together in sendmmsg calls.
    private const int BatchSize = 64;
    private const int ReplySlot = 2048;
    private const int ENOSYS = 38;

    /// <summary>Runs until the transport stops; false when the kernel or libc lacks recvmmsg, for the per-datagram loop to take over.</summary>
    public bool Run()
    {
        var handle = socket.SafeHandle;
        var added = false;
        try
        {
            handle.DangerousAddRef(ref added);
        }
        catch (ObjectDisposedException)
        {
            return true;
        }

        // The reference keeps the descriptor from being closed and reused while a raw syscall may be using it.
        try
        {
            return RunBatches((int)handle.DangerousGetHandle());
        }
        finally
        {
            if (added) handle.DangerousRelease();
        }
    }

    private bool RunBatches(int fd)
    {
        MessageBatch received, replies;
        try
        {
            received = new MessageBatch(BatchSize, UdpDatagramTransport.MaxDatagram);
        }
        catch (OutOfMemoryException)
        {
            return false;
        }

        using (received)
        using (replies = new MessageBatch(2 * BatchSize, ReplySlot, segment: true))
        {
            var outgoing = new DatagramList();
            var targets = new IPEndPoint[replies.Capacity];
            var sources = new SourceEndpoints(socket.AddressFamily);
            var destinations = new Dictionary<IPEndPoint, SocketAddress>();
            var stop = transport.Stopping;
            try
            {
                socket.ReceiveTimeout = 500; // to notice a stop even where closing does not wake a blocked receive
            }
            catch (ObjectDisposedException)
            {
                return true; // stopped as it started: the socket holds its descriptor open (see Run) but refuses options
            }

            while (!stop.IsCancellationRequested)
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
                if (stop.IsCancellationRequested) break;
                if (n < 0)
                {
                    if (errno == ENOSYS) return false;
                    var error = MessageBatch.ToSocketError(errno);
                    if (error is SocketError.OperationAborted or SocketError.NotSocket) break;

                    // A timeout is the stop check; ICMP port-unreachable from an earlier send surfaces here: not fatal.
                    if (error is not (SocketError.WouldBlock or SocketError.Interrupted)) transport.LogReceiveError(error);
                    continue;
                }

                for (var i = 0; i < n; i++)
                {
                    if (sources.Get(received.Address(i)) is not { } source) continue;
                    if (received.Truncated(i))
                    {
                        transport.LogReceiveError(SocketError.MessageSize);
                        continue;
                    }

                    transport.Deliver(received.Payload(i), source, outgoing);
                    Queue(outgoing, fd, replies, targets, destinations);
                }

                SendBatch(fd, replies, targets);
            }
        }

        return true;
    }

    // Copies the engine's replies into the batch (an engine may reuse its buffers on the next call); another family, or a
    // payload larger than a slot, goes out at once after what is queued, so a destination still gets its datagrams in order.
    private void Queue(DatagramList outgoing, int fd, MessageBatch replies, IPEndPoint[] targets, Dictionary<IPEndPoint, SocketAddress> destinations)
    {
        // By index: a foreach over the interface allocated an enumerator for every datagram received (issue #18).
        var items = outgoing.Items;
        for (var i = 0; i < items.Count; i++)
        {
            var d = items[i];
            if (d.Destination.AddressFamily != socket.AddressFamily)
            {
                transport.SendNow(d.Payload.Span, d.Destination);
                continue;
            }

            var address = UdpDatagramTransport.AddressOf(d.Destination, destinations);
            var sockaddr = address.Buffer.Span[..address.Size];
            if (replies.TryAdd(d.Payload.Span, sockaddr))
            {
                targets[replies.Count - 1] = d.Destination;
                continue;
            }

            SendBatch(fd, replies, targets);
            if (replies.TryAdd(d.Payload.Span, sockaddr)) targets[replies.Count - 1] = d.Destination;
            else transport.SendNow(d.Payload.Span, d.Destination, socket, address);
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
                transport.CountSent(n);
                start += n;
                continue;
            }

            var error = MessageBatch.ToSocketError(errno);
            if (error == SocketError.Interrupted) continue;
            if (error is SocketError.OperationAborted or SocketError.NotSocket) break; // shutting down

            // The datagram at start failed (unreachable, no route, refused by a firewall): it is lost, the rest still go.
            transport.CountSendError(targets[start], error);
            start++;
        }

        transport.CountSegmented(replies.SegmentedSends - segmented);
        if (segmenting && !replies.Segmenting) transport.LogSegmentationRefused(MessageBatch.ToSocketError(replies.SegmentationRefused), replies.SegmentationRefused);
        replies.Clear();
        Array.Clear(targets);
    }
}
