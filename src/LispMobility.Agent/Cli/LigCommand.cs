using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using LispMobility.Lisp;
using LispMobility.Lisp.Addressing;
using LispMobility.Lisp.Messages;

namespace LispMobility.Agent.Cli;

/// <summary>How lig asks: Map-Requests before giving up, how long to wait for each, the local RLOC to ask from, JSON output.</summary>
internal sealed record LigOptions(int Count = 3, TimeSpan? Timeout = null, IPAddress? Source = null, bool Json = false)
{
    /// <summary>How long to wait for each reply (lig's default, 2 s, when not given).</summary>
    public TimeSpan Wait => Timeout ?? TimeSpan.FromSeconds(2);
}

/// <summary>lig (RFC 6835): Map-Requests in ECMs straight to a Map-Resolver, without a running agent; prints the mapping and the round trip.</summary>
internal static class LigCommand
{
    private static readonly JsonSerializerOptions Pretty = new() { WriteIndented = true };

    /// <summary>Asks <paramref name="resolver"/> for <paramref name="eid"/> up to <see cref="LigOptions.Count"/> times; 0 on a reply, 1 on none, 2 on bad options.</summary>
    public static async Task<int> RunAsync(IPAddress eid, IPEndPoint resolver, LigOptions options, TextWriter output, CancellationToken ct)
    {
        if (options.Count < 1) return Usage("--count must be at least 1");
        if (options.Wait <= TimeSpan.Zero) return Usage("--timeout must be positive (e.g. 2s, 500ms)");
        if (options.Source is { } s && s.AddressFamily != resolver.AddressFamily)
            return Usage($"--source {s} is not of the Map-Resolver's address family ({resolver.Address}); give an {(resolver.AddressFamily == AddressFamily.InterNetwork ? "IPv4" : "IPv6")} address of this host");

        var local = options.Source ?? LocalAddressTowards(resolver);
        using var socket = new Socket(resolver.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
        socket.Bind(new IPEndPoint(local, 0));
        var port = (ushort)((IPEndPoint)socket.LocalEndPoint!).Port;
        // The ECM's inner header is of the EID's family; through a Map-Resolver of the other family (an IPv6 EID through an
        // IPv4 Map-Resolver) this host has no RLOC of that family to put there, so the EID stands in, as the xTR's ITR does.
        var eidAddress = LispAddress.FromIPAddress(eid);
        var innerSource = local.AddressFamily == eid.AddressFamily ? LispAddress.FromIPAddress(local) : eidAddress;
        var buffer = new byte[65535];
        for (var attempt = 1; attempt <= options.Count; attempt++)
        {
            var nonce = NonceSource.Random.Next();
            var request = new MapRequest { Nonce = nonce, ItrRlocs = [LispAddress.FromIPAddress(local)], Records = [EidPrefix.Host(eid)] };
            var ecm = EncapsulatedControlMessage.Wrap(request, innerSource, eidAddress, port);
            var watch = Stopwatch.StartNew();
            await socket.SendToAsync(ecm.ToArray(), SocketFlags.None, resolver, ct).ConfigureAwait(false);
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
            timeout.CancelAfter(options.Wait);
            try
            {
                while (true)
                {
                    var r = await socket.ReceiveFromAsync(buffer, SocketFlags.None, new IPEndPoint(local, 0), timeout.Token).ConfigureAwait(false);
                    if (!MapReply.TryRead(buffer.AsSpan(0, r.ReceivedBytes), out var reply, out _) || reply.Nonce != nonce) continue;
                    Print(eid, resolver, r.RemoteEndPoint, watch.Elapsed, nonce, attempt, reply, options.Json, output);
                    return 0;
                }
            }
            catch (OperationCanceledException) when (!ct.IsCancellationRequested)
            {
                if (!options.Json) output.WriteLine($"no reply from {resolver} within {options.Wait.TotalSeconds:0.###} s (attempt {attempt} of {options.Count})");
            }
        }

        if (options.Json) output.WriteLine(JsonSerializer.Serialize(new { eid = eid.ToString(), mapResolver = resolver.ToString(), answered = false, attempts = options.Count }, Pretty));
        return 1;
    }

    // The address the OS routes towards the Map-Resolver from: a connected UDP socket asks without sending anything.
    private static IPAddress LocalAddressTowards(IPEndPoint resolver)
    {
        using var probe = new Socket(resolver.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
        probe.Connect(resolver);
        return ((IPEndPoint)probe.LocalEndPoint!).Address;
    }

    private static void Print(IPAddress eid, IPEndPoint resolver, EndPoint from, TimeSpan rtt, ulong nonce, int attempt, MapReply reply, bool json, TextWriter output)
    {
        if (json)
        {
            output.WriteLine(JsonSerializer.Serialize(new
            {
                eid = eid.ToString(), mapResolver = resolver.ToString(), answered = true, replyFrom = from.ToString(), rttMs = Math.Round(rtt.TotalMilliseconds, 1),
                nonce = $"0x{nonce:x16}", attempts = attempt,
                records = reply.Records.Select(rec => new
                {
                    eid = rec.Eid.ToString(), ttlMinutes = rec.Ttl, authoritative = rec.Authoritative, action = rec.Locators.Count == 0 ? rec.Action.ToString() : null,
                    rlocs = rec.Locators.Select(l => new { address = l.Address.ToString(), priority = l.Priority, weight = l.Weight, up = l.Reachable }),
                }),
            }, Pretty));
            return;
        }

        output.WriteLine($"Mapping entry for EID '{eid}', from {from}, RTT {rtt.TotalMilliseconds:0.0} ms, nonce 0x{nonce:x16}");
        foreach (var rec in reply.Records)
        {
            output.WriteLine(rec.Locators.Count == 0
                ? $"  {rec.Eid}  negative, action {rec.Action}, ttl {rec.Ttl} min"
                : $"  {rec.Eid}  ttl {rec.Ttl} min{(rec.Authoritative ? ", authoritative" : "")}");
            foreach (var l in rec.Locators) output.WriteLine($"    {l.Address,-40} priority {l.Priority}/weight {l.Weight}{(l.Reachable ? "" : ", unreachable")}");
        }
    }

    private static int Usage(string message)
    {
        Console.Error.WriteLine($"lispmobility lookup: {message}");
        return 2;
    }
}
