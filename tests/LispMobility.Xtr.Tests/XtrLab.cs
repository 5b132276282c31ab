using System.Net;
using LispMobility.Lisp;
using LispMobility.Lisp.Messages;
using LispMobility.Lisp.Auth;
using LispMobility.MappingSystem;
using LispMobility.MappingSystem.Configuration;
using LispMobility.Xtr.Configuration;

namespace LispMobility.Xtr.Tests;

/// <summary>
/// Three sites around one Map-Server/Map-Resolver: A (home of 10.1.0.0/16) and B (10.2.0.0/16) share the dynamic range
/// 10.200.0.0/16; C (10.3.0.0/16) is a remote site whose ITR talks to the movers. Each xTR's RLOC is its own loopback
/// address in 127.20.<paramref name="net"/>.0/24 and everything listens on port 4342 there.
/// </summary>
internal sealed class XtrLab(int net)
{
    public const string KeyA = "site-a-secret", KeyB = "site-b-secret", KeyC = "site-c-secret";

    private static int _nextNet;

    /// <summary>A lab on a subnet no other test of this run uses (test classes run in parallel).</summary>
    public static XtrLab Fresh() => new(Interlocked.Increment(ref _nextNet));

    public string A => $"127.20.{net}.1";
    public string B => $"127.20.{net}.2";
    public string C => $"127.20.{net}.3";
    public string Ms => $"127.20.{net}.100";
    public string Ms2 => $"127.20.{net}.101";

    public IPEndPoint Endpoint(string address) => new(IPAddress.Parse(address), LispPorts.Control);

    public MapServerOptions MapServer(string? listen = null) => new()
    {
        Listen = [$"{listen ?? Ms}:4342"],
        MapNotifyPort = 4342,
        NotifyRetransmitInterval = TimeSpan.FromMilliseconds(500),
        RequestsPerSecondPerRequester = 100_000,
        RequestBurstPerRequester = 100_000,
        Sites =
        [
            Site("a", KeyA, "10.1.0.0/16"),
            Site("b", KeyB, "10.2.0.0/16"),
            new SiteOptions { Name = "c", EidPrefixes = [new() { Prefix = "10.3.0.0/16" }], Keys = [new() { KeyId = 1, Key = KeyC }] },
        ],
    };

    private static SiteOptions Site(string name, string key, string aggregate) => new()
    {
        Name = name,
        EidPrefixes = [new() { Prefix = aggregate, AcceptMoreSpecifics = true }, new() { Prefix = "10.200.0.0/16", AcceptMoreSpecifics = true }],
        Keys = [new() { KeyId = 1, Algorithm = AuthAlgorithm.HmacSha256_128, Key = key }],
    };

    /// <summary>Site A is the home of the dynamic range: it registers the range's aggregate, which a moved host's /32 overrides.</summary>
    public XtrOptions SiteA() => Xtr("a", A, KeyA, "10.1.0.0/16", dynamic: true) with { DatabaseMappings = ["10.1.0.0/16", "10.200.0.0/16"] };

    public XtrOptions SiteB() => Xtr("b", B, KeyB, "10.2.0.0/16", dynamic: true);

    public XtrOptions SiteC() => Xtr("c", C, KeyC, "10.3.0.0/16", dynamic: false);

    public XtrOptions Xtr(string site, string rloc, string key, string aggregate, bool dynamic) => new()
    {
        Site = site,
        Listen = [$"{rloc}:4342"],
        Rlocs = [new() { Address = rloc, Priority = 1, Weight = 100 }],
        MapServers = [new() { Address = $"{Ms}:4342", KeyId = 1, Algorithm = AuthAlgorithm.HmacSha256_128, Key = key }],
        MapResolvers = [$"{Ms}:4342"],
        DatabaseMappings = [aggregate],
        DynamicEids = dynamic ? [new() { Name = "vm", Prefix = "10.200.0.0/16", Interface = "vm0" }] : [],
    };

    public static MapServer MapServerEngine(MapServerOptions options, TimeProvider time) => new(options, time);
}

/// <summary>Nonces 0x5000, 0x5001... so that tests can name the message they answer.</summary>
internal sealed class CountingNonces(ulong start = 0x5000) : NonceSource
{
    private long _next = (long)start - 1;

    public override ulong Next() => (ulong)Interlocked.Increment(ref _next);
}
