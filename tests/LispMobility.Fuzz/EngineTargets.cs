using System.Net;
using System.Text;
using LispMobility.Lisp.Auth;
using LispMobility.Lisp.Messages;
using LispMobility.MappingSystem;
using LispMobility.MappingSystem.Configuration;
using LispMobility.Platform;
using LispMobility.Xtr;
using LispMobility.Xtr.Configuration;
using LispMobility.Platform.Routing;
using LispMobility.Xtr.Routing;
using Microsoft.Extensions.Time.Testing;

namespace LispMobility.Fuzz;

/// <summary>
/// The engines' entry points. An input is a sequence of datagrams, each as [source selector][length, 2 bytes][bytes];
/// between datagrams the clock moves and the timers run. Messages that carry a MAC are signed again with the configured
/// key before delivery, so that the fuzzer reaches what follows authentication (it cannot forge a MAC). Invariants: the
/// engine never throws, everything it sends reads back, and (xTR) the periodic Map-Registers still leave afterwards.
/// </summary>
internal static class EngineTargets
{
    public const string SiteKey = "fuzz-site-key";
    private static readonly byte[] Key = Encoding.UTF8.GetBytes(SiteKey);
    private static readonly IPEndPoint MapServerEndpoint = new(IPAddress.Parse("127.30.0.100"), 4342);

    private static readonly IPEndPoint[] Sources =
    [
        new(IPAddress.Parse("127.30.0.1"), 4342), new(IPAddress.Parse("127.30.0.2"), 4342), new(IPAddress.Parse("127.30.0.3"), 40000),
        MapServerEndpoint, new(IPAddress.Parse("2001:db8::1"), 4342),
    ];

    public static MapServerOptions MapServerOptions() => new()
    {
        Listen = ["127.30.0.100:4342"],
        ExpectedRegistrations = 0, // a server per input holding a handful: tables sized for 100,000 would be most of its cost
        Sites =
        [
            Site("a", "10.1.0.0/16"), Site("b", "10.2.0.0/16"),
            new SiteOptions { Name = "c", EidPrefixes = [new() { Prefix = "[7]10.3.0.0/16", AcceptMoreSpecifics = true }, new() { Prefix = "2001:db8:3::/48" }],
                Keys = [new() { KeyId = 2, Algorithm = AuthAlgorithm.HmacSha1_96, Key = SiteKey }], ReplayProtection = ReplayProtection.Monotonic },
        ],
    };

    private static SiteOptions Site(string name, string aggregate) => new()
    {
        Name = name,
        EidPrefixes = [new() { Prefix = aggregate, AcceptMoreSpecifics = true }, new() { Prefix = "10.200.0.0/16", AcceptMoreSpecifics = true }],
        Keys = [new() { KeyId = 1, Algorithm = AuthAlgorithm.HmacSha256_128, Key = SiteKey }],
    };

    public static XtrOptions XtrOptions() => new()
    {
        Site = "a",
        Listen = ["127.30.0.1:4342"],
        Rlocs = [new() { Address = "127.30.0.1", Priority = 1, Weight = 100 }],
        MapServers = [new() { Address = "127.30.0.100:4342", KeyId = 1, Algorithm = AuthAlgorithm.HmacSha256_128, Key = SiteKey }],
        MapResolvers = ["127.30.0.100:4342"],
        DatabaseMappings = ["10.1.0.0/16"],
        DynamicEids = [new() { Name = "vm", Prefix = "10.200.0.0/16", Interface = "vm0" }],
    };

    public static void MapServer(ReadOnlySpan<byte> input) => AllRead(MapServerOutput(input), "Map-Server");

    /// <summary>Everything the Map-Server sent for <paramref name="input"/>.</summary>
    public static List<OutgoingDatagram> MapServerOutput(ReadOnlySpan<byte> input)
    {
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));
        var server = new MapServer(MapServerOptions(), time);
        var output = new List<OutgoingDatagram>();
        var sent = new DatagramList();
        foreach (var (source, datagram, pause) in Datagrams(input))
        {
            server.Receive(Signed(datagram, AuthPurpose.MapRegister), source, sent);
            time.Advance(pause);
            server.OnTimer(sent);
            output.AddRange(sent.Items);
            sent.Clear();
        }

        time.Advance(TimeSpan.FromMinutes(4));
        server.OnTimer(sent);
        output.AddRange(sent.Items);
        return output;
    }

    public static void Xtr(ReadOnlySpan<byte> input)
    {
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));
        var options = XtrOptions();
        var xtr = new XtrEngine(options, new InMemoryRouteTable(), time);
        var sent = new DatagramList();
        xtr.OnTimer(sent);
        _ = xtr.BeginRegisterHost(IPAddress.Parse("10.200.0.7"), null, sent);
        _ = xtr.BeginResolve(IPAddress.Parse("10.2.0.9"), sent);
        sent.Clear();
        foreach (var (source, datagram, pause) in Datagrams(input))
        {
            xtr.Receive(Signed(datagram, AuthPurpose.MapNotify), source, sent);
            time.Advance(pause);
            xtr.OnTimer(sent);
            AllRead(sent, "xTR");
            sent.Clear();
        }

        // Whatever came in, the database is registered again within one registration interval.
        for (var s = 0; s <= options.QuickRegisterInterval.TotalSeconds; s++)
        {
            time.Advance(TimeSpan.FromSeconds(1));
            xtr.OnTimer(sent);
        }

        if (!sent.Items.Any(d => LispMessage.TryPeekType(d.Payload.Span, out var t) && t == LispMessageType.MapRegister))
        {
            throw new FuzzInvariantException("no Map-Register left the xTR within a registration interval after the input");
        }

        AllRead(sent, "xTR");
    }

    // [selector][length hi][length lo][bytes...]; what remains when the length runs past the end is the last datagram.
    private static List<(IPEndPoint Source, byte[] Datagram, TimeSpan Pause)> Datagrams(ReadOnlySpan<byte> input)
    {
        var list = new List<(IPEndPoint, byte[], TimeSpan)>();
        while (input.Length > 0 && list.Count < 16)
        {
            var selector = input[0];
            var length = input.Length >= 3 ? (input[1] << 8) | input[2] : 0;
            var body = input.Length >= 3 ? input[3..] : [];
            if (length > body.Length) length = body.Length;
            list.Add((Sources[selector % Sources.Length], body[..length].ToArray(), TimeSpan.FromMilliseconds(250 * (selector >> 4))));
            input = body[length..];
        }

        return list;
    }

    // A Map-Register, Map-Notify or Map-Notify-Ack is signed again with the site's key so the fuzzer gets past the MAC.
    private static byte[] Signed(byte[] datagram, AuthPurpose registerOrNotify)
    {
        if (!LispMessage.TryPeekType(datagram, out var type)) return datagram;
        var purpose = type switch
        {
            LispMessageType.MapRegister => AuthPurpose.MapRegister,
            LispMessageType.MapNotify => AuthPurpose.MapNotify,
            LispMessageType.MapNotifyAck => AuthPurpose.MapNotifyAck,
            _ => (AuthPurpose?)null,
        };
        if (purpose is null || (purpose != registerOrNotify && purpose != AuthPurpose.MapNotifyAck)) return datagram;
        if (!Lisp.Messages.MapRegister.TryReadView(datagram, out var view, out _) && !Lisp.Messages.MapNotify.TryReadView(datagram, out view, out _)
            && !Lisp.Messages.MapNotifyAck.TryReadView(datagram, out view, out _))
        {
            return datagram;
        }

        if (!LispAuthentication.IsKnown(view.Algorithm) || view.Algorithm == AuthAlgorithm.None || !LispAuthentication.IsAcceptedLength(view.Algorithm, view.AuthenticationLength))
        {
            return datagram;
        }

        var copy = (byte[])datagram.Clone();
        copy.AsSpan(view.AuthenticationOffset, view.AuthenticationLength).Clear();
        LispAuthentication.Sign(copy, view.AuthenticationOffset, view.AuthenticationLength, view.Algorithm, Key, view.Nonce, purpose.Value);
        return copy;
    }

    private static void AllRead(DatagramList sent, string engine) => AllRead(sent.Items, engine);

    private static void AllRead(IEnumerable<OutgoingDatagram> sent, string engine)
    {
        foreach (var d in sent)
        {
            if (!LispMessage.TryRead(d.Payload.Span, out _, out var error)) throw new FuzzInvariantException($"{engine} sent a datagram that does not read: {error}");
        }
    }
}
