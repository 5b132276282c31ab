using System.Net;
using LispMobility.TestSupport.Pcap;

namespace LispMobility.Lisp.Tests;

/// <summary>Wireshark's LISP dissector as the independent decoder: every message we write decodes there, showing the fields we wrote.</summary>
public sealed class TsharkTests : IClassFixture<TsharkCapture>
{
    private readonly TsharkCapture _capture;

    public TsharkTests(TsharkCapture capture) => _capture = capture;

    [Fact]
    public void No_frame_is_malformed_and_every_checksum_is_good()
    {
        Assert.False(_capture.Result.HasDecodeErrors, _capture.Result.DecodeErrorLines);
        Assert.Equal(TsharkCapture.Messages.Length, _capture.Result.Frames.Count);
        Assert.DoesNotContain("Bad checksum", _capture.Result.Output, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("[Checksum Status: Good]", _capture.Result.Output, StringComparison.Ordinal);
    }

    [Fact]
    public void Map_request_shows_nonce_source_itr_rloc_and_record()
    {
        var f = _capture.Frame("map-request");
        AssertShows(f, "Type: Map-Request (1)", "Nonce: 0x8877665544332211", "Source EID: 10.9.9.9", "ITR-RLOC Address: 192.0.2.2",
            "ITR-RLOC Count: 0", "Record Count: 1", "Map-Request Record 1: 10.1.1.7/32", "Prefix Length: 32");
        AssertShows(f, "S bit (Solicit-Map-Request): Not set", "M bit (Map-Reply present): Not set");
    }

    [Fact]
    public void Smr_shows_the_s_and_a_bits()
    {
        AssertShows(_capture.Frame("smr"), "S bit (Solicit-Map-Request): Set", "A bit (Authoritative): Set", "Nonce: 0x5a5a5a5a00000001");
    }

    [Fact]
    public void Map_request_with_reply_record_shows_flags_two_rlocs_and_the_record()
    {
        var f = _capture.Frame("map-request-with-reply-record");
        AssertShows(f, "M bit (Map-Reply present): Set", "P bit (Probe): Set", "p bit (Proxy ITR): Set", "s bit (SMR-invoked): Set",
            "ITR-RLOC Count: 1", "ITR-RLOC Address: 2001:db8::2", "Map-Reply Record",
            "EID Prefix: 10.9.9.0/24", "Priority/Weight: 9/33", "Mapping Version: 291");

        // Wireshark 4.0 does not name L and D; they are bits 17 and 18, the last two of its 9 "reserved" bits.
        AssertShows(f, ".... .... ..00 0000 011. .... = Reserved bits: 0x003");
    }

    [Fact]
    public void Instance_id_and_ipv6_eids_decode_as_lcaf()
    {
        AssertShows(_capture.Frame("map-request-iid-ipv6"), "Type: Instance ID (2)", "Instance ID: 4100", "Source EID: [4100] 2001:db8:aa::1",
            "Map-Request Record 1: [4100] 2001:db8:bb::/48", "ITR-RLOC Address: 2001:db8::2");
        AssertShows(_capture.Frame("map-reply-iid-ipv6"), "P bit (Probe): Set", "EID Prefix: [4100] 2001:db8:bb::/48", "Locator: 2001:db8::10",
            "Priority/Weight: 2/40");
    }

    [Fact]
    public void Ecm_with_ipv4_inner_headers_carries_the_map_request()
    {
        var f = _capture.Frame("ecm-ipv4");
        AssertShows(f, "Type: Encapsulated Control Message (8)", "Internet Protocol Version 4, Src: 192.0.2.2, Dst: 10.1.1.7",
            "Header Checksum: 0xada7 [correct]", "Type: Map-Request (1)", "Nonce: 0x8877665544332211");
        Assert.Equal(2, Count(f, "[Checksum Status: Good]")); // outer and inner UDP
    }

    [Fact]
    public void Ecm_with_ipv6_inner_headers_carries_the_map_request()
    {
        var f = _capture.Frame("ecm-ipv6");
        AssertShows(f, "Type: Encapsulated Control Message (8)", "Internet Protocol Version 6, Src: 2001:db8::2, Dst: 2001:db8:bb::1",
            "Src Port: 61000, Dst Port: 4342", "Nonce: 0xfeedfacecafebeef", "Instance ID: 4100");
        Assert.Equal(2, Count(f, "[Checksum Status: Good]"));
    }

    [Fact]
    public void Map_reply_shows_records_and_locators()
    {
        AssertShows(_capture.Frame("map-reply"), "Type: Map-Reply (2)", "E bit (Echo-Nonce locator reachability algorithm enabled): Set",
            "Nonce: 0x8877665544332211", "EID Prefix: 10.1.1.0/24, TTL: 1440, Action: No-Action, Authoritative", "Locator Count: 2",
            "RLOC: 192.0.2.1, Reachable, Priority/Weight: 5/50", "RLOC: 198.51.100.1, Unreachable, Priority/Weight: 6/60");
        AssertShows(_capture.Frame("map-reply-negative"), "EID Prefix: 10.2.0.0/16, TTL: 15, Action: Natively-Forward, Not Authoritative",
            "Locator Count: 0");
    }

    [Fact]
    public void Map_register_shows_all_flags_key_and_xtr_id()
    {
        var f = _capture.Frame("map-register");
        AssertShows(f, "Type: Map-Register (3)", "P bit (Proxy-Map-Reply): Set", "S bit (LISP-SEC capable): Set", "I bit (xTR-ID present): Set",
            "M bit (Want-Map-Notify): Set", "Nonce: 0x0102030405060708", "Authentication Data Length: 32",
            "EID Prefix: 172.16.4.23/32", "Local RLOC: 192.0.2.10, Reachable, Priority/Weight: 3/77",
            "xTR-ID: 11112222333344445555666677778888", "Site-ID: abcdef0123456789");

        // Wireshark follows RFC 6830's single 16-bit Key ID: key-id 7, algorithm 2 (HMAC-SHA-256).
        AssertShows(f, "Key ID: 0x0702");

        // E, T and a are bits 19-21, inside the range Wireshark 4.0 calls reserved.
        AssertShows(f, ".... .... 0000 0000 0001 110. = Reserved bits: 0x000e");
        AssertShows(_capture.Frame("map-register-sha1-truncated"), "Key ID: 0x0101", "Authentication Data Length: 12", "Reserved bits: 0x0000");
    }

    [Fact]
    public void Map_notify_shows_key_records_and_xtr_id()
    {
        AssertShows(_capture.Frame("map-notify"), "Type: Map-Notify (4)", "I bit (xTR-ID present): Set", "Nonce: 0x0102030405060708",
            "Key ID: 0x0702", "Authentication Data Length: 32", "EID Prefix: 172.16.4.23/32", "Priority/Weight: 3/77",
            "xTR-ID: 11112222333344445555666677778888");
    }

    [Fact]
    public void Map_notify_ack_is_type_5_and_not_malformed()
    {
        // Wireshark 4.0 knows no type 5 and shows it as data; newer ones decode it. Either way: type 5, no error.
        var f = _capture.Frame("map-notify-ack");
        Assert.True(f.Contains("Type: Unknown (5)", StringComparison.Ordinal) || f.Contains("Map-Notify-Ack", StringComparison.Ordinal), f);
        Assert.Contains("0101 .... .... .... .... .... = Type", f, StringComparison.Ordinal);
    }

    [Fact]
    public void Data_header_shows_flags_nonce_and_instance_id()
    {
        AssertShows(_capture.Frame("data-header"), "Locator/ID Separation Protocol (Data)", "N bit (Nonce present): Set",
            "L bit (Locator-Status-Bits field enabled): Set", "I bit (Instance ID present): Set", "V bit (Map-Version present): Not set",
            "Nonce: 11259375 (0xabcdef)", "Instance ID: 4100", "Locator-Status-Bits: 0x03", "Src: 10.1.1.7, Dst: 10.9.9.9");
    }

    [Fact]
    public void Fields_are_readable_one_per_frame()
    {
        var rows = Tshark.DecodeFields(_capture.PcapPath, "frame.number", "lisp.type", "lisp.nonce");
        Assert.Equal(TsharkCapture.Messages.Length, rows.Count);
        var register = Array.FindIndex(TsharkCapture.Messages, m => m.Name == "map-register");
        Assert.Equal("3", rows[register][1]);
        Assert.Equal("0x0102030405060708", rows[register][2]);
    }

    [Fact]
    public void A_corrupted_checksum_is_reported()
    {
        // The runner must be able to fail: flip one byte of the inner IPv4 header of an ECM.
        var bytes = Samples.EcmV4().ToArray();
        bytes[4 + 8] ^= 0x01; // inner TTL
        var path = Path.Combine(Path.GetTempPath(), $"lisp-bad-{Guid.NewGuid():N}.pcap");
        try
        {
            using (var pcap = PcapWriter.Create(path))
            {
                pcap.WriteUdp(new IPEndPoint(IPAddress.Loopback, 4342), new IPEndPoint(IPAddress.Loopback, 4342), bytes);
            }

            var result = Tshark.DecodeVerbose(path);
            Assert.True(result.HasDecodeErrors, result.Output);
        }
        finally
        {
            File.Delete(path);
        }
    }

    private static void AssertShows(string frame, params string[] texts)
    {
        foreach (var t in texts) Assert.True(frame.Contains(t, StringComparison.Ordinal), $"tshark did not show \"{t}\" in:\n{frame}");
    }

    private static int Count(string text, string what)
    {
        var n = 0;
        for (var i = text.IndexOf(what, StringComparison.Ordinal); i >= 0; i = text.IndexOf(what, i + what.Length, StringComparison.Ordinal)) n++;
        return n;
    }
}
