using System.Buffers.Binary;
using System.Runtime.Versioning;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Engines;
using LispMobility.Platform.DataPlane.FastPath;

namespace LispMobility.Benchmarks.Xtr;

/// <summary>
/// Draining a map the fast path's programs fill (the used notes: an LRU hash of 8,192), as the mirror does every 100 ms:
/// the walk that deleted each key as it went (two syscalls a key, and every step starting over at the first bucket)
/// against BPF_MAP_LOOKUP_AND_DELETE_BATCH (<see cref="Bpf.TakeBatch"/>, a run of buckets a call). Needs CAP_BPF (run as root).
/// </summary>
[SupportedOSPlatform("linux")]
[SimpleJob(RunStrategy.Monitoring, launchCount: 1, warmupCount: 1, iterationCount: 8)]
public class FastPathDrainBenchmarks
{
    private const int KeySize = 20, Capacity = 8192;
    private readonly byte[] _keys = new byte[Capacity * KeySize];
    private readonly byte[] _values = new byte[Capacity * 8];
    private int _map = -1;

    /// <summary>Keys in the map when a drain starts.</summary>
    [Params(100, 1000, 8000)]
    public int Notes { get; set; }

    [GlobalSetup]
    public void Create() => _map = Bpf.CreateMap(Bpf.MapLruHash, KeySize, 8, Capacity, 0, "lisp_bench");

    [GlobalCleanup]
    public void Close() => Bpf.Close(_map);

    [IterationSetup]
    public void Fill()
    {
        Span<byte> key = stackalloc byte[KeySize];
        Span<byte> value = stackalloc byte[8];
        for (var i = 0; i < Notes; i++)
        {
            BinaryPrimitives.WriteInt32LittleEndian(key, i * 7919);
            Bpf.Update(_map, key, value);
        }
    }

    /// <summary>Before: each key taken from a walk started over, then deleted.</summary>
    [Benchmark(Baseline = true)]
    public int DeleteWhileWalking()
    {
        Span<byte> key = stackalloc byte[KeySize];
        var taken = 0;
        while (Bpf.NextKey(_map, default, key))
        {
            Bpf.Delete(_map, key);
            taken++;
        }

        return taken;
    }

    /// <summary>Now: batches of buckets, each taken and deleted in one call.</summary>
    [Benchmark]
    public int TakeBatch() => Bpf.TakeBatch(_map, KeySize, _keys, _values);
}
