using System.Net;
using System.Text;
using LispMobility.Agent.Service;
using LispMobility.Lisp.Addressing;
using LispMobility.Mobility.Configuration;
using LispMobility.Mobility.Persistence;
using LispMobility.Platform;
using LispMobility.Platform.Routing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace LispMobility.Agent.Tests.Service;

/// <summary>The warm-up of the move path: every step runs, and nothing of it reaches the agent's network, journal or audit.</summary>
public sealed class MoveWarmUpTests : IDisposable
{
    private static readonly EidPrefix[] WarmUpRanges = [EidPrefix.Parse("192.0.2.0/24"), EidPrefix.Parse("2001:db8:ffff::/64")];
    private readonly string _dir = Directory.CreateTempSubdirectory("lm-warmup-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public async Task Moves_an_IPv4_and_an_IPv6_EID_away_from_home_and_back_through_every_step()
    {
        var report = await MoveWarmUp.RunAsync(new MobilityOptions(), dataPlane: true, CancellationToken.None);

        Assert.True(report.Converged, string.Join("\n", report.Moves.Select(m => $"{m.Eid} -> {m.ToSite}: {m.State} {m.Error}")));
        Assert.Equal(4, report.Moves.Count);
        Assert.Equal(["warm-up-away", "warm-up-away", "warm-up-home", "warm-up-home"], report.Moves.Select(m => m.ToSite).Order(StringComparer.Ordinal));
        foreach (var move in report.Moves)
        {
            Assert.Equal([MoveStep.Registered, MoveStep.OldSiteAway, MoveStep.GatewaysConverged, MoveStep.RemoteItrsSolicited], move.Steps.Select(s => s.Step));
        }

        // Away from home, the saga waited for the home site's news (the Map-Server's Map-Notify) and found it away.
        Assert.All(report.Moves.Where(m => m.ToSite == "warm-up-away"),
            m => Assert.Contains("warm-up-home away", m.Steps[1].Detail, StringComparison.Ordinal));
        // Then the data plane's first packets, both EID families over both RLOC families (DataPlaneWarmUpTests says which).
        Assert.Equal(16, report.DataPackets);
    }

    [Fact]
    public async Task A_calls_datagrams_arrive_after_the_call_returns_so_the_callers_await_suspends()
    {
        var wire = new InMemoryWire();
        var from = IPEndPoint.Parse("203.0.113.1:4342");
        var to = IPEndPoint.Parse("203.0.113.9:4342");
        var receiver = new Recorder();
        wire.Attach(to, receiver);
        var shell = new MoveWarmUp.Shell(wire, from);
        var payload = new byte[] { 1, 2, 3 };

        Task<byte[]> returned;
        // Holding the wire's gate keeps any delivery that is not part of the call itself waiting (the gate is re-entrant, so
        // one within the call would still happen): the datagram is not delivered while the call runs.
        lock (wire.Gate)
        {
            returned = shell.Run(sink =>
            {
                sink.Send(payload, to);
                return receiver.Received.Task;
            });
            payload[0] = 9; // the engine reusing its buffer once the call returned
            Assert.False(returned.IsCompleted);
        }

        Assert.Equal([1, 2, 3], await returned.WaitAsync(TimeSpan.FromSeconds(10)));
    }

    [Fact]
    public async Task An_agent_s_warm_up_registers_journals_audits_and_routes_nothing_of_its_own()
    {
        await using var services = Compose().BuildServiceProvider();
        var agent = services.GetRequiredService<MobilityAgent>();
        await agent.StartAsync(CancellationToken.None);
        try
        {
            var report = await agent.WarmedUp.WaitAsync(TimeSpan.FromSeconds(60));

            Assert.NotNull(report);
            Assert.True(report.Converged);
            // This agent's xTR runs no data plane (as on a Windows host): no packet is warmed up for one.
            Assert.Equal(0, report.DataPackets);
            Assert.Empty(agent.Store.QueryAudit(new AuditQuery()));
            Assert.Empty(agent.Store.Owners());
            Assert.Empty(agent.Store.Unfinished());
            Assert.Empty(agent.Xtr.Hosts());
            Assert.Empty(services.GetRequiredService<IRouteTable>().List());
            // The embedded Map-Server holds this agent's own database mapping once its xTR registered it over UDP, and nothing else.
            var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
            while (agent.MapServer!.RegistrationCount == 0 && DateTime.UtcNow < deadline) await Task.Delay(20);
            var registrations = agent.MapServer.ListRegistrations();
            Assert.Equal(["172.16.5.0/24"], registrations.Select(r => r.Eid.ToString()));
            Assert.DoesNotContain(registrations, r => WarmUpRanges.Any(w => w.Contains(r.Eid.Address)));
        }
        finally
        {
            await agent.StopAsync(CancellationToken.None);
        }
    }

    private sealed class Recorder : IDatagramEngine
    {
        public TaskCompletionSource<byte[]> Received { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public void Receive(ReadOnlySpan<byte> datagram, IPEndPoint source, IDatagramSink sink) => Received.TrySetResult(datagram.ToArray());

        public TimeSpan? OnTimer(IDatagramSink sink) => null;
    }

    private ServiceCollection Compose()
    {
        var json = $$"""
        {
          "MapServer": { "Listen": ["127.93.1.9:4342"], "Sites": [
            { "Name": "dc1", "EidPrefixes": [ { "Prefix": "172.16.4.0/24", "AcceptMoreSpecifics": true }, { "Prefix": "172.16.5.0/24" } ], "Keys": [ { "KeyId": 1, "Key": "k1" } ] } ] },
          "Xtr": { "Site": "dc1", "Listen": ["127.93.1.1:4342"], "Rlocs": [ { "Address": "127.93.1.1" } ],
            "MapServers": [ { "Address": "127.93.1.9:4342", "KeyId": 1, "Key": "k1" } ], "MapResolvers": ["127.93.1.9:4342"],
            "DatabaseMappings": ["172.16.5.0/24"], "DynamicEids": [ { "Name": "vm-web", "Prefix": "172.16.4.0/24" } ] },
          "Mobility": { "Database": "{{Path.Combine(_dir, "agent.db").Replace("\\", "/", StringComparison.Ordinal)}}",
            "Ranges": [ { "Name": "vm-web", "Prefix": "172.16.4.0/24", "HomeSite": "dc1", "Sites": ["dc1"] } ] },
          "Agent": { "RouteTable": "memory" }
        }
        """;
        var config = new ConfigurationBuilder().AddJsonStream(new MemoryStream(Encoding.UTF8.GetBytes(json))).Build();
        var services = new ServiceCollection();
        services.AddLogging();
        services.AddLispMobility(config);
        return services;
    }
}
