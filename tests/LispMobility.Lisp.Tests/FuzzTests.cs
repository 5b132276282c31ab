using System.Diagnostics;
using LispMobility.Lisp.Addressing;
using LispMobility.Lisp.Auth;
using LispMobility.Lisp.Messages;
using LispMobility.Lisp.Records;
using Xunit.Abstractions;

namespace LispMobility.Lisp.Tests;

/// <summary>Hostile input through every reader: no exception, no hang, allocation bounded (zero for the views of inline records).</summary>
public sealed class FuzzTests
{
    private const int Buffers = 1_000_000;
    private const long ViewAllocationBound = 16 * 1024;
    private const long HeapAllocationPerByteBound = 256;
    private readonly ITestOutputHelper _output;

    public FuzzTests(ITestOutputHelper output) => _output = output;

    [Fact]
    public void A_million_mutated_buffers_through_every_reader()
    {
        var fuzzer = new Fuzzer(seed: 20261122);
        var scratch = new byte[512];
        var accepted = 0;
        var retaken = 0;
        (long Bytes, int Buffer) maxView = (0, -1), maxHeapPerByte = (0, -1);
        var clock = Stopwatch.StartNew();
        for (var i = 0; i < Buffers; i++)
        {
            var buffer = fuzzer.Next(scratch);
            try
            {
                var views = Measure(static (b, _) => ReadViews(b), buffer, verify: false, bound: ViewAllocationBound);
                var perByteDivisor = Math.Max(16, buffer.Length);
                var heap = Measure(ReadHeap, buffer, verify: i % 64 == 0, bound: HeapAllocationPerByteBound * perByteDivisor);
                accepted += views.Accepted + heap.Accepted;
                retaken += (views.Retaken ? 1 : 0) + (heap.Retaken ? 1 : 0);
                if (views.Bytes > maxView.Bytes) maxView = (views.Bytes, i);
                if (heap.Bytes / perByteDivisor > maxHeapPerByte.Bytes) maxHeapPerByte = (heap.Bytes / perByteDivisor, i);
            }
            catch (Exception e)
            {
                Assert.Fail($"buffer {i} ({Convert.ToHexString(buffer)}) threw {e}");
            }

            // A functional deadline: a reader that loops on some input shows up here, not as a hung CI job.
            if ((i & 0xFFF) == 0) Assert.True(clock.Elapsed < TimeSpan.FromSeconds(120), $"fuzzing stalled at buffer {i}");
        }

        _output.WriteLine($"{Buffers} buffers in {clock.Elapsed.TotalSeconds:F1} s, {accepted} reads accepted, " +
                          $"max view allocation {maxView.Bytes} B (buffer {maxView.Buffer}), " +
                          $"max heap-reader allocation {maxHeapPerByte.Bytes} B per input byte (buffer {maxHeapPerByte.Buffer}), {retaken} readings retaken");

        // The mutations keep a good share valid, so the deep paths (records, locators, LCAF) were exercised too.
        Assert.InRange(accepted, Buffers / 20, Buffers * 10);

        // Views allocate only for LCAF AFI-lists and unknown LCAFs; bounded by the input (512 bytes at most) with a margin.
        Assert.True(maxView.Bytes <= ViewAllocationBound, $"buffer {maxView.Buffer}: the views allocated {maxView.Bytes} B");
        Assert.True(maxHeapPerByte.Bytes <= HeapAllocationPerByteBound, $"buffer {maxHeapPerByte.Buffer}: the heap readers allocated {maxHeapPerByte.Bytes} B per input byte");
        // One-off costs are a handful; a reader that kept something for every new input (a leak the warm reading would not
        // show) needs a retake for each, and fails here.
        Assert.True(retaken <= 100, $"{retaken} readings over their bound were taken again");
    }

    /// <summary>
    /// What <paramref name="read"/> allocates for <paramref name="buffer"/>. A one-off cost of the runtime (a type's first
    /// use, a thread's string-builder or pool array refilled after a GC trimmed it) lands on whichever buffer meets it, at
    /// a moment that depends on what else the process ran; so a reading over <paramref name="bound"/> is taken once more,
    /// warm, and only what the reader allocates for that input counts.
    /// </summary>
    private static (int Accepted, long Bytes, bool Retaken) Measure(Reader read, ReadOnlySpan<byte> buffer, bool verify, long bound)
    {
        var before = GC.GetAllocatedBytesForCurrentThread();
        var accepted = read(buffer, verify);
        var bytes = GC.GetAllocatedBytesForCurrentThread() - before;
        if (bytes <= bound) return (accepted, bytes, false);
        before = GC.GetAllocatedBytesForCurrentThread();
        read(buffer, verify);
        return (accepted, GC.GetAllocatedBytesForCurrentThread() - before, true);
    }

    private delegate int Reader(ReadOnlySpan<byte> buffer, bool verify);

    [Fact]
    public void Views_of_inline_records_allocate_nothing()
    {
        byte[][] registers =
        [
            Samples.Register().ToSignedArray(Samples.Key),
            Samples.SimpleRegister().ToSignedArray(Samples.Key),
            (Samples.SimpleRegister() with { Records = [Samples.Record("[4100]2001:db8::/64", "2001:db8::1"), Samples.Record("[9]10.0.0.0/8", "192.0.2.1")] }).ToSignedArray(Samples.Key),
        ];
        byte[][] requests = [Samples.Request().ToArray(), Samples.Smr().ToArray(), Samples.RequestWithReplyRecord().ToArray(), Samples.IidIpv6Request().ToArray()];
        byte[][] ecms = [Samples.EcmV4().ToArray(), Samples.EcmV6().ToArray()];

        long sum = 0;
        for (var pass = 0; pass < 2; pass++)
        {
            // Pass 0 warms up (JIT, statics); pass 1 measures.
            var before = GC.GetAllocatedBytesForCurrentThread();
            for (var n = 0; n < 1000; n++)
            {
                foreach (var b in registers) sum += ReadRegister(b);
                foreach (var b in requests) sum += ReadRequest(b);
                foreach (var b in ecms) sum += ReadEcm(b);
            }

            var allocated = GC.GetAllocatedBytesForCurrentThread() - before;
            if (pass == 1) Assert.Equal(0, allocated);
        }

        Assert.NotEqual(0, sum);
    }

    [Fact]
    public void Failed_reads_allocate_no_more_than_their_lcaf_lists_need()
    {
        var fuzzer = new Fuzzer(seed: 7);
        var scratch = new byte[512];
        var buffers = Enumerable.Range(0, 2000).Select(_ => fuzzer.Next(scratch).ToArray())
            .Where(b => !MapRegister.TryReadView(b, out _, out _) && !MapRequestView.TryRead(b, out _, out _)).ToArray();
        Assert.NotEmpty(buffers);
        for (var pass = 0; pass < 2; pass++)
        {
            var before = GC.GetAllocatedBytesForCurrentThread();
            foreach (var b in buffers)
            {
                MapRegister.TryReadView(b, out _, out _);
                MapRequestView.TryRead(b, out _, out _);
                DataPlaneHeader.TryRead(b, out _, out _);
            }

            // AFI-list and opaque LCAFs are materialised even when a later field fails; only IP-only inputs are held to zero.
            var allocated = GC.GetAllocatedBytesForCurrentThread() - before;
            if (pass == 1) Assert.InRange(allocated, 0, buffers.Length * 512L);
        }
    }

    private static int ReadViews(ReadOnlySpan<byte> b)
    {
        var ok = 0;
        if (MapRegister.TryReadView(b, out var register, out _)) ok += Walk(register);
        if (MapNotify.TryReadView(b, out var notify, out _)) ok += Walk(notify);
        if (MapNotifyAck.TryReadView(b, out var ack, out _)) ok += Walk(ack);
        if (MapRequestView.TryRead(b, out var request, out _))
        {
            ok++;
            foreach (var a in request.ItrRlocs) _ = a.Kind;
            foreach (var p in request.Records) _ = p.MaskLength;
        }

        if (EcmView.TryRead(b, out var ecm, out _)) ok += ecm.InnerMessage.Length >= 0 ? 1 : 0;
        if (DataPlaneHeader.TryRead(b, out _, out _)) ok++;
        if (LispAddress.TryRead(b, out _, out var used, out _)) ok += used > 0 ? 1 : 0;
        return ok;
    }

    private static int Walk(AuthenticatedMessageView view)
    {
        foreach (var record in view.Records)
        {
            foreach (var locator in record.Locators) _ = locator.Priority;
        }

        return 1;
    }

    private static int ReadHeap(ReadOnlySpan<byte> b, bool verify)
    {
        var ok = 0;
        if (LispMessage.TryRead(b, out var message, out var error))
        {
            ok++;
            _ = message.GetSerializedLength();
        }
        else if (verify)
        {
            _ = error.ToString();
        }

        if (MappingRecord.TryRead(b, out _, out _, out _)) ok++;
        if (verify && MapRegister.TryReadView(b, out var v, out _)) _ = v.VerifyAuthentication(Samples.Key, AuthPurpose.MapRegister);
        return ok;
    }

    private static long ReadRegister(byte[] b)
    {
        Assert.True(MapRegister.TryReadView(b, out var v, out _));
        var sum = (long)v.Nonce;
        foreach (var record in v.Records)
        {
            sum += record.Eid.MaskLength + record.Ttl;
            foreach (var locator in record.Locators) sum += locator.Priority + locator.Weight;
        }

        return sum;
    }

    private static long ReadRequest(byte[] b)
    {
        Assert.True(MapRequestView.TryRead(b, out var v, out _));
        long sum = (long)v.Nonce + v.SourceEid.MaxMaskLength;
        foreach (var rloc in v.ItrRlocs) sum += (long)rloc.Kind;
        foreach (var eid in v.Records) sum += eid.MaskLength;
        return sum;
    }

    private static long ReadEcm(byte[] b)
    {
        Assert.True(EcmView.TryRead(b, out var v, out _));
        Assert.True(MapRequestView.TryRead(v.InnerMessage, out var inner, out _));
        return inner.FirstRecord.MaskLength + v.InnerSourcePort;
    }
}
