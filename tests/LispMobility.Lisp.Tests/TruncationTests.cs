using LispMobility.Lisp.Addressing;
using LispMobility.Lisp.Messages;
using LispMobility.Lisp.Records;

namespace LispMobility.Lisp.Tests;

/// <summary>Every known-answer vector cut at every byte: a precise Truncated error, never an exception.</summary>
public sealed class TruncationTests
{
    public static TheoryData<string, string> Vectors => new()
    {
        { "Map-Request", KnownAnswerTests.MapRequestHex },
        { "Map-Request all flags", KnownAnswerTests.MapRequestAllFlagsHex },
        { "Map-Request IID IPv6", KnownAnswerTests.IidIpv6RequestHex },
        { "Map-Reply", KnownAnswerTests.MapReplyHex },
        { "Map-Reply negative", KnownAnswerTests.NegativeMapReplyHex },
        { "Map-Register", KnownAnswerTests.MapRegisterHex },
        { "Map-Notify", KnownAnswerTests.MapNotifyHex },
        { "Map-Notify-Ack", KnownAnswerTests.MapNotifyAckHex },
        { "ECM IPv4", KnownAnswerTests.EcmV4Hex },
        { "ECM IPv6", KnownAnswerTests.Hex(Samples.EcmV6().ToArray()) },
    };

    [Theory]
    [MemberData(nameof(Vectors))]
    public void Every_prefix_of_a_message_is_reported_truncated(string name, string hex)
    {
        var bytes = KnownAnswerTests.Bytes(hex);
        Assert.True(LispMessage.TryRead(bytes, out _, out var ok), $"{name}: {ok}");
        for (var length = 0; length < bytes.Length; length++)
        {
            var cut = bytes.AsSpan(0, length);
            Assert.False(LispMessage.TryRead(cut, out _, out var error), $"{name} cut at {length} was accepted");
            Assert.True(error.Kind == LispErrorKind.Truncated, $"{name} cut at {length}: {error.Kind} {error}");
            Assert.InRange(error.Offset, 0, length);
            Assert.False(string.IsNullOrEmpty(error.ToString()));
        }
    }

    [Fact]
    public void Every_prefix_of_a_record_address_and_data_header_is_reported_truncated()
    {
        var record = KnownAnswerTests.Bytes(KnownAnswerTests.AfiListRecordHex);
        for (var length = 0; length < record.Length; length++)
        {
            Assert.False(MappingRecord.TryRead(record.AsSpan(0, length), out _, out _, out var error));
            Assert.Equal(LispErrorKind.Truncated, error.Kind);
            Assert.InRange(error.Offset, 0, length);
        }

        var address = KnownAnswerTests.Bytes("4003" + "00000200" + "0016" + "00001004" + "0002" + "20010db800aa00000000000000000001");
        for (var length = 0; length < address.Length; length++)
        {
            Assert.False(LispAddress.TryRead(address.AsSpan(0, length), out _, out _, out var error));
            Assert.Equal(LispErrorKind.Truncated, error.Kind);
            Assert.InRange(error.Offset, 0, length);
        }

        var header = KnownAnswerTests.Bytes(KnownAnswerTests.DataHeaderHex);
        for (var length = 0; length < header.Length; length++)
        {
            Assert.False(DataPlaneHeader.TryRead(header.AsSpan(0, length), out _, out var error));
            Assert.Equal(LispErrorKind.Truncated, error.Kind);
        }
    }

    [Fact]
    public void A_short_record_list_names_the_count_the_record_and_the_offset()
    {
        // Header 16 + MAC 32 = 48; each record (IPv4 EID, one IPv4 locator) takes 28 bytes: record 2 spans 76..104.
        var register = Samples.SimpleRegister() with
        {
            Records = [Samples.Record("10.1.1.0/24", "192.0.2.1"), Samples.Record("10.1.2.0/24", "192.0.2.1"), Samples.Record("10.1.3.0/24", "192.0.2.1")],
        };
        var bytes = register.ToSignedArray(Samples.Key);
        Assert.Equal(48 + 3 * 28, bytes.Length);

        Assert.False(MapRegister.TryReadView(bytes.AsSpan(0, 88), out _, out var error));
        Assert.Equal((LispErrorKind.Truncated, 88, 1, 3), (error.Kind, error.Offset, error.RecordIndex, error.RecordCount));
        Assert.StartsWith("RecordCount says 3, buffer ends in record 2 at offset 88", error.ToString(), StringComparison.Ordinal);
    }
}
