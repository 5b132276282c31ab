using System.Diagnostics;
using System.Net;
using LispMobility.Lisp.Messages;
using static LispMobility.MappingSystem.Tests.Lab;
using static LispMobility.MappingSystem.Tests.UdpTests;

namespace LispMobility.MappingSystem.Tests;

/// <summary>The native Map-Server executable reads an agent's configuration file and serves registrations as the agent's verb does.</summary>
public sealed class NativeMapServerTests : IDisposable
{
    private readonly string _config = Path.Combine(Path.GetTempPath(), $"native-ms-{Guid.NewGuid():N}.json");

    public void Dispose() => File.Delete(_config);

    private Process Start()
    {
        var exe = NativeMapServerFactAttribute.Executable!;
        Assert.True(File.Exists(exe), $"LISPMOBILITY_NATIVE_MAP_SERVER names {exe}, which does not exist");
        var start = new ProcessStartInfo(exe, ["--config", _config]) { RedirectStandardOutput = true, RedirectStandardError = true };
        return Process.Start(start)!;
    }

    [NativeMapServerFact]
    public async Task Registers_an_eid_and_answers_with_a_map_notify()
    {
        await File.WriteAllTextAsync(_config, $$"""
            { "Log": { "MinimumLevel": "Warning" },
              "MapServer": { "Listen": [ "127.10.20.3:0" ], "MapNotifyPort": 0,
                "Sites": [ { "Name": "dc1", "EidPrefixes": [ { "Prefix": "10.1.0.0/16", "AcceptMoreSpecifics": true } ],
                  "Keys": [ { "KeyId": 1, "Algorithm": "HmacSha256_128", "Key": "{{Dc1Secret}}" } ] } ] } }
            """);
        using var server = Start();
        try
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            var line = await server.StandardOutput.ReadLineAsync(timeout.Token) ?? "";
            Assert.StartsWith("map-server listening on ", line, StringComparison.Ordinal);
            var endpoint = IPEndPoint.Parse(line["map-server listening on ".Length..].Split(';')[0]);

            using var xtr = Bind("127.10.1.1");
            await xtr.SendToAsync(Register(7, Dc1Secret, Record("10.1.0.5/32", 1440, "127.10.1.1")), endpoint);
            var notify = await ReceiveAsync(xtr);

            Assert.True(MapNotify.TryReadView(notify.Payload, out var view, out _));
            Assert.Equal(7ul, view.Nonce);
            Assert.True(view.VerifyAuthentication(Key(Dc1Secret), Lisp.Auth.AuthPurpose.MapNotify));
        }
        finally
        {
            server.Kill();
            await server.WaitForExitAsync();
        }
    }

    [NativeMapServerFact]
    public async Task Refuses_a_file_with_an_unknown_key()
    {
        await File.WriteAllTextAsync(_config, """{ "MapServer": { "Sites": [ { "Name": "dc1", "Keyz": [] } ] } }""");
        using var server = Start();

        var errors = await server.StandardError.ReadToEndAsync();
        await server.WaitForExitAsync();

        Assert.Equal(2, server.ExitCode);
        Assert.Contains("Keyz", errors, StringComparison.Ordinal);
    }
}
