using System.Buffers.Binary;
using BenchmarkDotNet.Attributes;
using LispMobility.Lisp.Wire;
using LispMobility.Xtr.DataPlane;

namespace LispMobility.Benchmarks.Xtr;

/// <summary>
/// The TCP offloads' per-packet work without syscalls: the ITR cutting a 64 KB super-packet into 1,448-byte segments,
/// the ETR joining those segments back, and the checksum sum over one segment (word by word as before, and now).
/// </summary>
[MemoryDiagnoser]
[SimpleJob(launchCount: 1, warmupCount: 3, iterationCount: 8)]
public class TcpOffloadBenchmarks
{
    private const int Mss = 1448;
    private readonly byte[] _super = new byte[52 + 45 * Mss];
    private readonly byte[] _segment = new byte[70_000];
    private readonly List<byte[]> _segments = [];
    private readonly TcpCoalescer _joiner = new();
    private VirtioNetHeader _header;

    /// <summary>Builds the super-packet (IPv4, TCP with timestamps) and its segments.</summary>
    [GlobalSetup]
    public void Setup()
    {
        var p = _super.AsSpan();
        p[0] = 0x45;
        BinaryPrimitives.WriteUInt16BigEndian(p[2..], (ushort)p.Length);
        p[6] = 0x40;
        p[8] = 64;
        p[9] = 6;
        BinaryPrimitives.WriteUInt32BigEndian(p[12..], 0x0A090005);
        BinaryPrimitives.WriteUInt32BigEndian(p[16..], 0xAC10040A);
        p[32] = 8 << 4;
        p[33] = 0x10;
        for (var i = 52; i < p.Length; i++) p[i] = (byte)i;
        BinaryPrimitives.WriteUInt16BigEndian(p[36..], (ushort)~InternetChecksum.Finish(InternetChecksum.Add(0, p[12..20]) + 6u + (uint)(p.Length - 20)));
        _header = new VirtioNetHeader(VirtioNetHeader.NeedsChecksum, VirtioNetHeader.GsoTcpV4, 52, Mss, 20, 16);
        TcpSegments.TryCreate(_super, _header, out var segments);
        while (segments.TryNext(_segment, out var n)) _segments.Add(_segment[..n]);
    }

    /// <summary>One super-packet cut into its 45 segments (headers fixed, TCP checksum over each).</summary>
    [Benchmark(OperationsPerInvoke = 45)]
    public int CutPerSegment()
    {
        TcpSegments.TryCreate(_super, _header, out var segments);
        var total = 0;
        while (segments.TryNext(_segment, out var n)) total += n;
        return total;
    }

    /// <summary>45 segments joined into one super-packet (each segment's checksum verified first).</summary>
    [Benchmark(OperationsPerInvoke = 45)]
    public int JoinPerSegment()
    {
        _joiner.TryStart(_segments[0]);
        for (var i = 1; i < _segments.Count; i++) _joiner.TryAppend(_segments[i]);
        return _joiner.Take().Length;
    }

    /// <summary>The ones'-complement sum of one 1,448-byte payload, 16-bit word by word (the sum before).</summary>
    [Benchmark(Baseline = true)]
    public uint ChecksumWordByWord()
    {
        var data = _super.AsSpan(52, Mss);
        uint sum = 0;
        var i = 0;
        for (; i + 1 < data.Length; i += 2) sum += BinaryPrimitives.ReadUInt16BigEndian(data[i..]);
        if (i < data.Length) sum += (uint)(data[i] << 8);
        return sum;
    }

    /// <summary>The same sum, 32-bit words into 64 bits (<see cref="InternetChecksum.Add"/> before it summed 32 bytes a step).</summary>
    [Benchmark]
    public ulong ChecksumWords()
    {
        var data = _super.AsSpan(52, Mss);
        ulong wide = 0;
        foreach (var word in System.Runtime.InteropServices.MemoryMarshal.Cast<byte, uint>(data[..(data.Length & ~3)])) wide += word;
        return wide;
    }

    /// <summary>The same sum by <see cref="InternetChecksum.Add"/>: 32 bytes a step (Vector256), the tail in 32-bit words.</summary>
    [Benchmark]
    public uint ChecksumWide() => InternetChecksum.Add(0, _super.AsSpan(52, Mss));

    /// <summary>A segment's payload copied, then summed: the two passes before <see cref="InternetChecksum.CopyAndAdd"/>.</summary>
    [Benchmark]
    public uint CopyThenSum()
    {
        var payload = _super.AsSpan(52, Mss);
        payload.CopyTo(_segment);
        return InternetChecksum.Add(0, _segment.AsSpan(0, Mss));
    }

    /// <summary>The same in one pass.</summary>
    [Benchmark]
    public uint CopyAndSum() => InternetChecksum.CopyAndAdd(0, _super.AsSpan(52, Mss), _segment);

    /// <summary>A whole super-packet's payload (65 KB) copied, then summed.</summary>
    [Benchmark]
    public uint CopyThenSumSuper()
    {
        var payload = _super.AsSpan(52);
        payload.CopyTo(_segment);
        return InternetChecksum.Add(0, _segment.AsSpan(0, payload.Length));
    }

    /// <summary>The same in one pass.</summary>
    [Benchmark]
    public uint CopyAndSumSuper() => InternetChecksum.CopyAndAdd(0, _super.AsSpan(52), _segment);
}
