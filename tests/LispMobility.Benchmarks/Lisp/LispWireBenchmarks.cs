using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Toolchains.InProcess.Emit;
using LispMobility.Lisp.Addressing;
using LispMobility.Lisp.Auth;
using LispMobility.Lisp.Messages;
using LispMobility.Lisp.Records;

namespace LispMobility.Benchmarks.Lisp;

/// <summary>
/// The LISP wire library's hot paths: what a Map-Server does per received Map-Register and Map-Request,
/// and what an xTR does per registration refresh. Targets: read Map-Register ≤ 150 ns with 0 B, write + HMAC-SHA-256 ≤ 1 µs.
/// </summary>
[MemoryDiagnoser]
[Config(typeof(ShortInProcess))]
public class LispWireBenchmarks
{
    private static readonly byte[] Key = "benchmark-site-key"u8.ToArray();
    private readonly byte[] _buffer = new byte[1500];
    private MapRegister _register = null!;
    private byte[] _registerBytes = null!;
    private MapRequest _request = null!;
    private byte[] _requestBytes = null!;

    /// <summary>A Map-Register of 1 record with 1 IPv4 locator, signed with HMAC-SHA-256 (full 32-byte MAC); a one-record Map-Request.</summary>
    [GlobalSetup]
    public void Setup()
    {
        _register = new MapRegister
        {
            WantMapNotify = true, Nonce = 0x0102030405060708, KeyId = 1, Algorithm = AuthAlgorithm.HmacSha256_128,
            XtrId = new UInt128(1, 2), SiteId = 3,
            Records = [new MappingRecord
            {
                Eid = EidPrefix.Parse("172.16.4.23/32"), Ttl = 3,
                Locators = [new Locator(LispAddress.Parse("192.0.2.10"), 1, 100)],
            }],
        };
        _registerBytes = _register.ToSignedArray(Key);
        _request = new MapRequest
        {
            Nonce = 0x8877665544332211, SourceEid = LispAddress.Parse("10.9.9.9"), ItrRlocs = [LispAddress.Parse("192.0.2.2")],
            Records = [EidPrefix.Parse("172.16.4.23/32")],
        };
        _requestBytes = _request.ToArray();
    }

    /// <summary>Validate a received Map-Register (header, MAC length, every record and locator, xTR-ID) without copying.</summary>
    [Benchmark]
    public bool ValidateMapRegisterView() => MapRegister.TryReadView(_registerBytes, out _, out _);

    /// <summary>Validate a received Map-Register and walk its record and locator without copying.</summary>
    [Benchmark]
    public int ReadMapRegisterView()
    {
        if (!MapRegister.TryReadView(_registerBytes, out var view, out _)) return -1;
        var sum = view.KeyId;
        foreach (var record in view.Records)
        {
            sum += record.Eid.MaskLength;
            foreach (var locator in record.Locators) sum += locator.Priority;
        }

        return sum;
    }

    /// <summary>Read a Map-Register into its heap type (records copied).</summary>
    [Benchmark]
    public MapRegister? ReadMapRegister() => MapRegister.TryRead(_registerBytes, out var m, out _) ? m : null;

    /// <summary>Serialize and sign a Map-Register into a reused buffer (HMAC-SHA-256, 32-byte MAC).</summary>
    [Benchmark]
    public int WriteSignedMapRegister() => _register.WriteSigned(_buffer, Key);

    /// <summary>The floor under the two above: one HMAC-SHA-256 over a message of the same length, straight from the BCL (OpenSSL on Linux).</summary>
    [Benchmark]
    public int HmacSha256Primitive() => System.Security.Cryptography.HMACSHA256.HashData(Key, _registerBytes, _buffer);

    /// <summary>Check the HMAC-SHA-256 of a received Map-Register.</summary>
    [Benchmark]
    public bool VerifyMapRegister() =>
        MapRegister.TryReadView(_registerBytes, out var view, out _) && view.VerifyAuthentication(Key, AuthPurpose.MapRegister);

    /// <summary>Validate a received Map-Request and read its first EID.</summary>
    [Benchmark]
    public int ReadMapRequestView() =>
        MapRequestView.TryRead(_requestBytes, out var view, out _) ? view.FirstRecord.MaskLength : -1;

    /// <summary>Read a Map-Request into its heap type.</summary>
    [Benchmark]
    public MapRequest? ReadMapRequest() => MapRequest.TryRead(_requestBytes, out var m, out _) ? m : null;

    /// <summary>Serialize a Map-Request into a reused buffer.</summary>
    [Benchmark]
    public int WriteMapRequest() => _request.Write(_buffer);

    /// <summary>
    /// A short run inside this process: the machine is shared by several builds, so no extra benchmark project is
    /// generated and compiled per run, and 10 iterations instead of ShortRun's 3 because the load of the others is noisy.
    /// </summary>
    private sealed class ShortInProcess : ManualConfig
    {
        public ShortInProcess() => AddJob(Job.ShortRun.WithIterationCount(10).WithToolchain(InProcessEmitToolchain.Instance).WithId("Short-InProcess"));
    }
}
