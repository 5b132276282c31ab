using System.Net;
using LispMobility.Lisp.Addressing;
using LispMobility.Lisp.Messages;
using LispMobility.Lisp.Records;
using LispMobility.Platform;
using LispMobility.Xtr.Caching;
using LispMobility.Xtr.Configuration;
using LispMobility.Platform.Routing;
using LispMobility.Xtr.Routing;
using Microsoft.Extensions.Time.Testing;
using LispMobility.TestSupport.Simulation;

namespace LispMobility.Xtr.Tests;

/// <summary>The ITR side: map-cache, resolution through the Map-Resolver (rate limit, back-off, nonces) and RLOC choice.</summary>
public sealed class ItrTests
{
    private static readonly DateTimeOffset T0 = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);
    private readonly XtrLab _lab = XtrLab.Fresh();
    private readonly FakeTimeProvider _time = new(T0);

    private static MappingRecord Record(string eid, uint ttl = 1440, MapReplyAction action = MapReplyAction.NoAction, params string[] rlocs) => new()
    {
        Eid = EidPrefix.Parse(eid), Ttl = ttl, Action = action, Locators = rlocs.Select(r => new Locator(LispAddress.Parse(r))).ToArray(),
    };

    // A cache bounded at 3, full: 10.1/16, 10.2/16, 10.3/16 installed in that order (10.1/16 the least recently used).
    private static MapCache FullCacheOfThree()
    {
        var cache = new MapCache(3);
        for (var i = 1; i <= 3; i++) cache.Install(Record($"10.{i}.0.0/16", rlocs: $"192.0.2.{i}"), T0);
        return cache;
    }

    [Fact]
    public void Map_cache_matches_the_longest_prefix_per_instance_id()
    {
        var cache = new MapCache(10);
        cache.Install(Record("10.0.0.0/8", rlocs: "192.0.2.8"), T0);
        cache.Install(Record("10.1.0.0/16", rlocs: "192.0.2.16"), T0);
        cache.Install(Record("[7]10.1.2.0/24", rlocs: "192.0.2.24"), T0);

        Assert.Equal("192.0.2.16", cache.Lookup(LispAddress.Parse("10.1.2.3"), T0)!.Locators[0].Address.ToString());
        Assert.Equal("192.0.2.8", cache.Lookup(LispAddress.Parse("10.2.0.1"), T0)!.Locators[0].Address.ToString());
        Assert.Equal("192.0.2.24", cache.Lookup(LispAddress.Parse("[7]10.1.2.3"), T0)!.Locators[0].Address.ToString());
        Assert.Null(cache.Lookup(LispAddress.Parse("[7]10.1.3.1"), T0));
        Assert.Null(cache.Lookup(LispAddress.Parse("11.0.0.1"), T0));
    }

    [Fact]
    public void Entries_expire_at_their_ttl_and_a_lookup_falls_back_to_the_covering_entry()
    {
        var cache = new MapCache(10);
        cache.Install(Record("10.0.0.0/8", ttl: 60, rlocs: "192.0.2.8"), T0);
        cache.Install(Record("10.1.0.0/16", ttl: 1, rlocs: "192.0.2.16"), T0);

        Assert.Equal(16, cache.Lookup(LispAddress.Parse("10.1.0.1"), T0.AddSeconds(59))!.Eid.MaskLength);
        Assert.Equal(8, cache.Lookup(LispAddress.Parse("10.1.0.1"), T0.AddMinutes(1))!.Eid.MaskLength);
        Assert.Equal(1, cache.Count);
        Assert.Equal(1, cache.Expire(T0.AddMinutes(60)));
        Assert.Equal(0, cache.Count);
    }

    [Fact]
    public void Negative_entries_keep_their_action_and_ttl()
    {
        var cache = new MapCache(10);
        var entry = cache.Install(Record("10.9.0.0/16", ttl: 15, action: MapReplyAction.NativelyForward), T0);

        Assert.True(entry.IsNegative);
        Assert.Equal(MapReplyAction.NativelyForward, cache.Lookup(LispAddress.Parse("10.9.1.1"), T0)!.Action);
        Assert.Equal(T0.AddMinutes(15), entry.Expires);
        Assert.Null(cache.Lookup(LispAddress.Parse("10.9.1.1"), T0.AddMinutes(15)));
    }

    [Fact]
    public void The_size_bound_evicts_the_least_recently_used_entry()
    {
        var cache = FullCacheOfThree();
        Assert.NotNull(cache.Lookup(LispAddress.Parse("10.1.0.1"), T0)); // 10.2/16 is now the least recently used

        cache.Install(Record("10.4.0.0/16", rlocs: "192.0.2.4"), T0);

        Assert.Equal(3, cache.Count);
        Assert.Equal(1, cache.Evictions);
        Assert.Null(cache.Get(EidPrefix.Parse("10.2.0.0/16")));
        Assert.Equal(["10.4.0.0/16", "10.1.0.0/16", "10.3.0.0/16"], cache.Entries.Select(e => e.Eid.ToString()));
    }

    [Fact]
    public void What_the_data_plane_used_becomes_the_entrys_last_use_at_the_sweep_and_keeps_it_from_eviction()
    {
        var cache = FullCacheOfThree();
        // The ITR sends by 10.1/16, the least recently used, through the published snapshot: one stamp a second at most.
        var entry = cache.Snapshot.Lookup(LispAddress.Parse("10.1.0.1"), T0)!;
        entry.NoteDataUse(T0.AddSeconds(5).UtcTicks);
        entry.NoteDataUse(T0.AddSeconds(5.5).UtcTicks);
        Assert.Equal(T0.AddSeconds(5), entry.DataUsed);
        entry.NoteDataUse(T0.AddSeconds(6).UtcTicks);
        Assert.Equal(T0.AddSeconds(6), entry.DataUsed);
        Assert.Equal(T0, entry.LastUsed);

        var used = new List<MapCacheEntry>();
        Assert.Equal(0, cache.Expire(T0.AddSeconds(7), used));
        Assert.Same(entry, Assert.Single(used));
        Assert.Equal(T0.AddSeconds(6), entry.LastUsed);
        used.Clear();
        cache.Expire(T0.AddSeconds(8), used);
        Assert.Empty(used);

        cache.Install(Record("10.4.0.0/16", rlocs: "192.0.2.4"), T0.AddSeconds(8));
        Assert.Null(cache.Get(EidPrefix.Parse("10.2.0.0/16")));
        Assert.Equal(["10.4.0.0/16", "10.1.0.0/16", "10.3.0.0/16"], cache.Entries.Select(e => e.Eid.ToString()));
    }

    [Fact]
    public void A_locator_going_down_keeps_the_entrys_source_and_its_data_use_for_the_sweep()
    {
        var cache = new MapCache(3);
        cache.Install(Record("10.1.0.0/16", rlocs: ["192.0.2.1", "192.0.2.2"]), T0, MapCacheSource.Smr);
        cache.Snapshot.Lookup(LispAddress.Parse("10.1.0.1"), T0)!.NoteDataUse(T0.AddSeconds(5).UtcTicks);

        Assert.Equal(1, cache.SetReachable(LispAddress.Parse("192.0.2.1"), reachable: false));

        var entry = cache.Snapshot.Lookup(LispAddress.Parse("10.1.0.1"), T0)!;
        Assert.False(entry.Locators[0].Reachable);
        Assert.Equal(MapCacheSource.Smr, entry.LearnedBy);
        Assert.Equal((T0, T0.AddSeconds(5)), (entry.LastUsed, entry.DataUsed));
        var used = new List<MapCacheEntry>();
        cache.Expire(T0.AddSeconds(6), used);
        Assert.Same(entry, Assert.Single(used));
        Assert.Equal(T0.AddSeconds(5), entry.LastUsed);
    }

    [Fact]
    public async Task A_remote_itr_only_the_data_plane_sends_to_stays_in_use_and_is_solicited_after_a_move()
    {
        var (itr, sent) = Itr();
        var task = itr.BeginResolve(IPAddress.Parse("10.1.0.5"), sent);
        var nonce = Requests(sent).Single().Nonce;
        itr.Receive(new MapReply { Nonce = nonce, Records = [Record("10.1.0.0/16", rlocs: _lab.A)] }.ToArray(), _lab.Endpoint(_lab.A), sent);
        await task.WaitAsync(TimeSpan.FromSeconds(5));
        var host = IPAddress.Parse("10.3.0.9");

        // Past the in-use window with no lookup, A is not in use any more...
        _time.Advance(new XtrOptions().InUseWindow + TimeSpan.FromMinutes(1));
        itr.OnTimer(sent);
        Assert.Equal(0, itr.SolicitRemoteItrs(host, sent));

        // ...until the data plane sends by its entry: the next sweep (once a second) takes that in.
        var now = _time.GetUtcNow();
        itr.MapCacheSnapshot.Lookup(LispAddress.Parse("10.1.0.5"), now)!.NoteDataUse(now.UtcTicks);
        _time.Advance(TimeSpan.FromSeconds(1));
        itr.OnTimer(sent);
        Assert.Equal(now, itr.MapCacheEntries().Single().LastUsed);
        sent.Clear();
        Assert.Equal(1, itr.SolicitRemoteItrs(host, sent));
        Assert.Equal(_lab.Endpoint(_lab.A), Assert.Single(sent.Items).Destination);
    }

    private (XtrEngine Itr, DatagramList Sent) Itr()
    {
        var itr = new XtrEngine(_lab.SiteC(), new InMemoryRouteTable(), _time, new CountingNonces());
        var sent = new DatagramList();
        itr.RegisterNow(new DatagramList()); // keep the periodic registration out of the way
        return (itr, sent);
    }

    private static List<MapRequest> Requests(DatagramList sent) => sent.Items
        .Where(d => LispMessage.TryPeekType(d.Payload.Span, out var t) && t == LispMessageType.EncapsulatedControlMessage)
        .Select(d =>
        {
            Assert.True(EncapsulatedControlMessage.TryRead(d.Payload.Span, out var ecm, out var error), error.ToString());
            Assert.True(MapRequest.TryRead(ecm.InnerMessage.Span, out var request, out error), error.ToString());
            return request;
        }).ToList();

    [Fact]
    public void A_miss_sends_one_ecm_map_request_per_second_ten_times_then_backs_off_30_s()
    {
        var (itr, sent) = Itr();
        var eid = IPAddress.Parse("10.1.0.5");
        _ = itr.BeginResolve(eid, sent);
        _ = itr.BeginResolve(eid, sent); // joins the first

        Assert.Single(Requests(sent));
        Assert.Equal(_lab.Endpoint(_lab.Ms), sent.Items[0].Destination);
        for (var halfSeconds = 1; halfSeconds <= 80; halfSeconds++)
        {
            _time.Advance(TimeSpan.FromSeconds(0.5));
            itr.OnTimer(sent);
            var t = halfSeconds / 2; // whole seconds elapsed
            var expected = t < 39 ? Math.Min(10, 1 + t) : 11 + (t - 39); // t = 0..9, then nothing until 9 + 30 s
            Assert.Equal(expected, Requests(sent).Count);
        }

        var requests = Requests(sent);
        Assert.Equal(requests.Count, requests.Select(r => r.Nonce).Distinct().Count());
        Assert.All(requests, r => Assert.Equal(EidPrefix.Parse("10.1.0.5/32"), r.Records.Single()));
        Assert.All(requests, r => Assert.Equal([LispAddress.Parse(_lab.C)], r.ItrRlocs));
        Assert.Equal(12, itr.Counters.MapRequestsSent);
    }

    [Fact]
    public async Task Only_a_reply_with_the_pending_nonce_fills_the_cache()
    {
        var (itr, sent) = Itr();
        var task = itr.BeginResolve(IPAddress.Parse("10.1.0.5"), sent);
        var nonce = Requests(sent).Single().Nonce;
        var answer = new MapReply { Nonce = nonce + 1, Records = [Record("10.1.0.0/16", rlocs: _lab.A)] };

        itr.Receive(answer.ToArray(), _lab.Endpoint(_lab.A), sent);
        Assert.False(task.IsCompleted);
        Assert.Equal(1, itr.Counters.UnmatchedReplies);
        Assert.Null(itr.LookupMapCache(IPAddress.Parse("10.1.0.5")));

        itr.Receive((answer with { Nonce = nonce }).ToArray(), _lab.Endpoint(_lab.A), sent);
        var entry = await task.WaitAsync(TimeSpan.FromSeconds(5));
        Assert.Equal(EidPrefix.Parse("10.1.0.0/16"), entry.Eid);

        itr.Receive((answer with { Nonce = nonce }).ToArray(), _lab.Endpoint(_lab.A), sent); // a replay
        Assert.Equal(2, itr.Counters.UnmatchedReplies);
        Assert.Equal(1, itr.Counters.CacheInstalls);
    }

    [Fact]
    public async Task A_negative_reply_is_cached_with_its_action()
    {
        var (itr, sent) = Itr();
        var task = itr.BeginResolve(IPAddress.Parse("10.200.0.9"), sent);
        var nonce = Requests(sent).Single().Nonce;

        itr.Receive(new MapReply { Nonce = nonce, Records = [Record("10.200.0.9/32", ttl: 1, action: MapReplyAction.SendMapRequest)] }.ToArray(), _lab.Endpoint(_lab.Ms), sent);

        var entry = await task.WaitAsync(TimeSpan.FromSeconds(5));
        Assert.True(entry.IsNegative);
        Assert.Equal(MapReplyAction.SendMapRequest, entry.Action);
        _time.Advance(TimeSpan.FromMinutes(1));
        Assert.Null(itr.LookupMapCache(IPAddress.Parse("10.200.0.9")));
    }

    [Fact]
    public void Rloc_choice_takes_the_lowest_usable_priority_never_255_nor_unreachable()
    {
        Locator L(string a, byte p, byte w = 100, bool reachable = true) => new(LispAddress.Parse(a), p, w, Reachable: reachable);
        var set = new[] { L("192.0.2.1", 255), L("192.0.2.2", 1, reachable: false), L("192.0.2.3", 2), L("192.0.2.4", 3) };

        for (uint h = 0; h < 1000; h++) Assert.Equal("192.0.2.3", RlocSelector.Select(set, h * 2654435761u)!.Value.Address.ToString());
        Assert.Null(RlocSelector.Select([L("192.0.2.1", 255), L("192.0.2.2", 1, reachable: false)], 5));
        Assert.Null(RlocSelector.Select([], 5));
    }

    [Fact]
    public void Rloc_choice_splits_flows_by_weight_and_keeps_each_flow_on_one_rloc()
    {
        var set = new[] { new Locator(LispAddress.Parse("192.0.2.1"), 1, 75), new Locator(LispAddress.Parse("192.0.2.2"), 1, 25), new Locator(LispAddress.Parse("192.0.2.3"), 2, 100) };
        var counts = new Dictionary<string, int>();
        var random = new Random(42);
        var src = new byte[4];
        var dst = new byte[] { 10, 1, 0, 5 };
        for (var i = 0; i < 20_000; i++)
        {
            random.NextBytes(src);
            var port = (ushort)random.Next(1024, 65535);
            var hash = RlocSelector.FlowHash(src, dst, 6, port, 443);
            var chosen = RlocSelector.Select(set, hash)!.Value.Address.ToString();
            Assert.Equal(chosen, RlocSelector.Select(set, RlocSelector.FlowHash(src, dst, 6, port, 443))!.Value.Address.ToString());
            counts[chosen] = counts.GetValueOrDefault(chosen) + 1;
        }

        Assert.False(counts.ContainsKey("192.0.2.3"));
        Assert.InRange(counts["192.0.2.1"] / 20_000.0, 0.72, 0.78);
        Assert.InRange(counts["192.0.2.2"] / 20_000.0, 0.22, 0.28);
    }
}
