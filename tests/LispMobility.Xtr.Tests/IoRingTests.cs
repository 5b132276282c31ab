using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Runtime.Versioning;
using LispMobility.Platform.DataPlane;

namespace LispMobility.Xtr.Tests;

/// <summary>The io_uring batches under the TUN reader and writer, on connected loopback UDP sockets (one datagram per read, as a TUN).</summary>
[SupportedOSPlatform("linux")]
public sealed partial class IoRingTests
{
    [Fact]
    public unsafe void A_batch_of_writes_and_one_of_reads_move_one_datagram_each_in_order()
    {
        using var pair = new LoopbackPair();
        var (a, b) = (pair.A, pair.B);
        using var ring = IoRing.TryCreate(8, out var errno);
        Assert.True(ring is not null, $"io_uring_setup: errno {errno}");

        var sent = new byte[3][] { [1, 2, 3], [4, 5, 6, 7, 8], [9] };
        var results = new int[8];
        fixed (byte* s0 = sent[0], s1 = sent[1], s2 = sent[2])
        {
            var fd = (int)a.SafeHandle.DangerousGetHandle();
            Assert.True(ring.TryQueueWrite(fd, s0, 3, 0));
            Assert.True(ring.TryQueueWrite(fd, s1, 5, 1));
            Assert.True(ring.TryQueueWrite(fd, s2, 1, 2));
            Assert.Equal(3, ring.Submit(results));
        }

        Assert.Equal([3, 5, 1], results[..3]);
        Assert.True(b.Poll(TimeSpan.FromSeconds(10), SelectMode.SelectRead));

        var received = new byte[5 * 16];
        Array.Fill(results, int.MinValue);
        fixed (byte* r = received)
        {
            var fd = (int)b.SafeHandle.DangerousGetHandle();
            for (var i = 0; i < 3; i++) Assert.True(ring.TryQueueRead(fd, r + i * 16, 16, i));
            Assert.Equal(3, ring.Submit(results));
        }

        Assert.Equal([3, 5, 1], results[..3]);
        Assert.Equal(sent[0], received[..3]);
        Assert.Equal(sent[1], received[16..21]);
        Assert.Equal(sent[2], received[32..33]);
    }

    [Fact]
    public unsafe void A_full_batch_refuses_more_until_submitted()
    {
        using var ring = IoRing.TryCreate(2, out _);
        Assert.NotNull(ring);
        var buffer = stackalloc byte[1];
        for (var i = 0; i < ring.Capacity; i++) Assert.True(ring.TryQueueRead(-1, buffer, 1, i));
        Assert.False(ring.TryQueueRead(-1, buffer, 1, 99));
        var results = new int[ring.Capacity];
        Assert.Equal(ring.Capacity, ring.Submit(results));
        Assert.All(results, r => Assert.Equal(-9, r)); // EBADF: each request completes with its own error
        Assert.True(ring.TryQueueRead(-1, buffer, 1, 0));
    }

    [Fact]
    public unsafe void A_read_of_an_empty_nonblocking_socket_is_parked_not_answered_eagain_and_a_submit_without_waiting_says_so()
    {
        using var b = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        b.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        using var ring = IoRing.TryCreate(4, out _);
        Assert.NotNull(ring);
        var results = new int[1];
        var buffer = stackalloc byte[16];
        var fd = (int)b.SafeHandle.DangerousGetHandle();
        SetNonBlocking(fd);
        Assert.True(ring.TryQueueRead(fd, buffer, 16, 0));
        Assert.Equal(0, ring.Submit(results, wait: false));
    }

    [Fact]
    public unsafe void Reads_kept_in_flight_complete_in_the_datagrams_order_as_they_arrive_and_cancel_all_answers_the_rest()
    {
        using var pair = new LoopbackPair();
        var (a, b) = (pair.A, pair.B);
        var fd = (int)b.SafeHandle.DangerousGetHandle();
        SetNonBlocking(fd);
        using var ring = IoRing.TryCreate(4, out _);
        Assert.NotNull(ring);
        var buffer = stackalloc byte[3 * 16];
        for (var i = 0; i < 3; i++) Assert.True(ring.TryQueueRead(fd, buffer + i * 16, 16, i));
        ring.Issue();
        Assert.False(ring.TryTake(out _, out _));
        Assert.False(ring.WaitForCompletion(0));

        a.Send([7, 7]);
        a.Send([8, 8, 8]);
        var taken = new List<(int Tag, int Result)>();
        while (taken.Count < 2 && ring.WaitForCompletion(10_000))
            while (ring.TryTake(out var tag, out var result)) taken.Add((tag, result));

        // Which parked read wakes first is the kernel's choice; the completions come in the datagrams' order.
        Assert.Equal([2, 3], taken.Select(t => t.Result));
        Assert.Equal(2, taken.Select(t => t.Tag).Distinct().Count());
        Assert.Equal(7, buffer[taken[0].Tag * 16 + 1]);
        Assert.Equal(8, buffer[taken[1].Tag * 16 + 2]);
        Assert.True(ring.CancelAll(1)); // once the third read is answered (cancelled)
        Assert.False(ring.TryTake(out _, out _));
    }

    // Two loopback UDP sockets connected to each other: a datagram socket reads one datagram per read, as a TUN one packet.
    private sealed class LoopbackPair : IDisposable
    {
        public LoopbackPair()
        {
            A.Bind(new IPEndPoint(IPAddress.Loopback, 0));
            B.Bind(new IPEndPoint(IPAddress.Loopback, 0));
            A.Connect(B.LocalEndPoint!);
            B.Connect(A.LocalEndPoint!);
        }

        public Socket A { get; } = new(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);

        public Socket B { get; } = new(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);

        public void Dispose()
        {
            A.Dispose();
            B.Dispose();
        }
    }

    private static void SetNonBlocking(int fd) => Assert.Equal(0, fcntl(fd, 4, fcntl(fd, 3, 0) | 0x800)); // F_SETFL, F_GETFL, O_NONBLOCK

    [LibraryImport("libc", SetLastError = true)]
    private static partial int fcntl(int fd, int command, int argument);
}
