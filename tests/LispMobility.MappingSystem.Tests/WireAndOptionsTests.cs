using System.Globalization;
using System.Net;
using LispMobility.Lisp.Auth;
using LispMobility.Lisp.Messages;
using LispMobility.MappingSystem.Configuration;
using LispMobility.TestSupport.Pcap;
using static LispMobility.MappingSystem.Tests.Lab;
using static LispMobility.MappingSystem.Tests.UdpTests;

namespace LispMobility.MappingSystem.Tests;

/// <summary>What the Map-Server sends decodes cleanly in Wireshark; bad configuration is refused with its path named.</summary>
public sealed class WireAndOptionsTests
{
    [Fact]
    public async Task Solicited_and_unsolicited_map_notify_and_smr_sent_over_udp_decode_in_tshark_without_errors()
    {
        Assert.True(Tshark.IsAvailable, "tshark is not installed; scripts/test.sh installs it (apt-get install tshark)");
        await using var service = await StartAsync(UdpOptions("127.10.20.3:0"));
        var server = service.LocalEndpoints[0];
        using var dc1 = Bind("127.10.1.1");
        using var dc2 = Bind("127.10.2.1");
        using var itr = Bind("127.10.9.9");

        await dc1.SendToAsync((RegisterMessage(1, Record("10.200.0.9/32", 1440, "127.10.1.1")) with { ProxyMapReply = true }).ToSignedArray(Key(Dc1Secret)), server);
        await ReceiveAsync(dc1);
        await itr.SendToAsync(Request("10.200.0.9", (IPEndPoint)itr.LocalEndPoint!), server);
        await ReceiveAsync(itr); // the proxy Map-Reply
        await dc2.SendToAsync((RegisterMessage(1, Record("10.200.0.9/32", 1440, "127.10.2.1")) with { XtrId = 0x2222, SiteId = 2 }).ToSignedArray(Key(Dc2Secret)), server);
        var solicited = await ReceiveAsync(dc2);
        var notify = await ReceiveAsync(dc1);
        var smr = await ReceiveAsync(itr);

        var pcap = Path.Combine(Path.GetTempPath(), $"map-server-{Environment.ProcessId}-{Guid.NewGuid():N}.pcap");
        try
        {
            using (var writer = PcapWriter.Create(pcap))
            {
                writer.WriteUdp(notify.From, (IPEndPoint)dc1.LocalEndPoint!, notify.Payload);
                writer.WriteUdp(smr.From, (IPEndPoint)itr.LocalEndPoint!, smr.Payload);
                writer.WriteUdp(solicited.From, (IPEndPoint)dc2.LocalEndPoint!, solicited.Payload);
            }

            var result = Tshark.DecodeVerbose(pcap, "-d", string.Create(CultureInfo.InvariantCulture, $"udp.port=={server.Port},lisp"));
            result.EnsureSuccess();
            Assert.False(result.HasDecodeErrors, result.DecodeErrorLines);
            Assert.Equal(3, result.Frames.Count);
            Assert.Contains("Type: Map-Notify (4)", result.Frames[0], StringComparison.Ordinal);
            Assert.Contains("10.200.0.9/32", result.Frames[0], StringComparison.Ordinal);
            Assert.Contains("127.10.2.1", result.Frames[0], StringComparison.Ordinal);
            Assert.Contains("Type: Map-Request (1)", result.Frames[1], StringComparison.Ordinal);
            Assert.Contains("S bit (Solicit-Map-Request): Set", result.Frames[1], StringComparison.Ordinal);
            Assert.Contains("Source EID: 10.200.0.9", result.Frames[1], StringComparison.Ordinal);
            Assert.Contains("Type: Map-Notify (4)", result.Frames[2], StringComparison.Ordinal);
            Assert.Contains("I bit (xTR-ID present): Set", result.Frames[2], StringComparison.Ordinal);
            Assert.Contains("Nonce: 0x0000000000000001", result.Frames[2], StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(pcap);
        }
    }

    [Fact]
    public void Every_problem_is_reported_with_its_config_path()
    {
        var bad = new MapServerOptions
        {
            Listen = ["0.0.0.0", "[::]:4342"],
            MapNotifyPort = 70000,
            RegistrationTimeout = TimeSpan.Zero,
            ExpectedRegistrations = -1,
            ReceiveLoops = 65,
            Sites =
            [
                new() { Name = "dc1", EidPrefixes = [new() { Prefix = "10.1.0.0/33" }], Keys = [new() { KeyId = 1, Key = "" }, new() { KeyId = 1, Algorithm = AuthAlgorithm.None, Key = "x" }], AllowedRlocs = ["not-an-ip"] },
                new() { Name = "DC1", EidPrefixes = [], Keys = [] },
            ],
        };

        var errors = bad.Validate();
        string[] paths =
        [
            "MapServer.Listen[0]", "MapServer.MapNotifyPort", "MapServer.RegistrationTimeout", "MapServer.ExpectedRegistrations", "MapServer.ReceiveLoops",
            "MapServer.Sites[0].EidPrefixes[0].Prefix",
            "MapServer.Sites[0].Keys[0].Key", "MapServer.Sites[0].Keys[1].KeyId", "MapServer.Sites[0].Keys[1].Algorithm",
            "MapServer.Sites[0].AllowedRlocs[0]", "MapServer.Sites[1].Name", "MapServer.Sites[1].EidPrefixes", "MapServer.Sites[1].Keys",
        ];
        foreach (var p in paths) Assert.Contains(errors, e => e.StartsWith(p + ":", StringComparison.Ordinal));
        Assert.Equal(paths.Length, errors.Count);
        Assert.DoesNotContain(errors, e => e.Contains("Listen[1]", StringComparison.Ordinal));

        var thrown = Assert.Throws<ArgumentException>(() => new MapServer(bad));
        Assert.Contains("MapServer.Sites[0].Keys[0].Key", thrown.Message, StringComparison.Ordinal);
        Assert.Contains("Agent.MapServer.Sites", string.Join('\n', new MapServerOptions().Validate("Agent.MapServer")), StringComparison.Ordinal);
    }

    [Fact]
    public void Valid_options_have_no_errors_and_keys_never_show_in_text()
    {
        Assert.Empty(Options().Validate());
        var key = Options().Sites[0].Keys[0];
        Assert.DoesNotContain(Dc1Secret, key.ToString(), StringComparison.Ordinal);
    }
}
