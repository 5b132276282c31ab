using LispMobility.Lisp.Auth;
using LispMobility.MappingSystem.Configuration;
using LispMobility.Mobility.Configuration;
using LispMobility.Xtr.Configuration;

namespace LispMobility.Agent.Lab;

/// <summary>
/// The embedded default of <c>lispmobility lab</c>: a Map-Server/Resolver, two data centers sharing the
/// dynamic-EID range 172.16.4.0/24 (home DC1) and a branch, all on loopback addresses 127.77.x.y.
/// </summary>
internal static class LabTopology
{
    public const string MapServer = "127.77.0.1:4342";
    public const string Dc1 = "dc1", Dc2 = "dc2", Branch = "branch";
    public const string Range = "vm-web";
    public const string RangePrefix = "172.16.4.0/24";

    public static MapServerOptions MapServerOptions() => new()
    {
        Listen = [MapServer],
        Sites =
        [
            Site(Dc1, "dc1-lab-key", ("172.16.4.0/24", true)),
            Site(Dc2, "dc2-lab-key", ("172.16.4.0/24", true), ("172.16.5.0/24", false)),
            Site(Branch, "branch-lab-key", ("10.50.0.0/24", false)),
        ],
    };

    public static XtrOptions XtrOptions(string site) => site switch
    {
        Dc1 => Xtr(site, "127.77.1.1", "dc1-lab-key", "172.16.4.0/24", dynamic: true),
        Dc2 => Xtr(site, "127.77.2.1", "dc2-lab-key", "172.16.5.0/24", dynamic: true),
        _ => Xtr(site, "127.77.3.1", "branch-lab-key", "10.50.0.0/24", dynamic: false),
    };

    public static MobilityOptions MobilityOptions(string database) => new()
    {
        Database = database,
        HoldDown = TimeSpan.FromMilliseconds(500),
        Ranges =
        [
            new DynamicEidRangeOptions
            {
                Name = Range, Prefix = RangePrefix, HomeSite = Dc1, Sites = [Dc1, Dc2], Mode = MobilityMode.AcrossSubnet,
                Gateway = new GatewayOptions { Vlan = 104, Interface = "Vlan104", VirtualIp = "172.16.4.1", PrefixLength = 24, FhrpVersion = 2, Group = 10 },
            },
        ],
    };

    private static SiteOptions Site(string name, string key, params (string Prefix, bool MoreSpecifics)[] prefixes) => new()
    {
        Name = name,
        EidPrefixes = prefixes.Select(p => new SiteEidPrefixOptions { Prefix = p.Prefix, AcceptMoreSpecifics = p.MoreSpecifics }).ToList(),
        Keys = [new SiteKeyOptions { KeyId = 1, Algorithm = AuthAlgorithm.HmacSha256_128, Key = key }],
    };

    private static XtrOptions Xtr(string site, string rloc, string key, string aggregate, bool dynamic) => new()
    {
        Site = site,
        Listen = [rloc + ":4342"],
        Rlocs = [new LocatorOptions { Address = rloc }],
        MapServers = [new MapServerPeerOptions { Address = MapServer, KeyId = 1, Algorithm = AuthAlgorithm.HmacSha256_128, Key = key }],
        MapResolvers = [MapServer],
        DatabaseMappings = [aggregate],
        DynamicEids = dynamic ? [new DynamicEidOptions { Name = Range, Prefix = RangePrefix }] : [],
        RegisterDeadline = TimeSpan.FromSeconds(5),
    };
}
