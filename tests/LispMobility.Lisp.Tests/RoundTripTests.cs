using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using LispMobility.Lisp.Addressing;
using LispMobility.Lisp.Messages;
using LispMobility.Lisp.Records;

namespace LispMobility.Lisp.Tests;

/// <summary>Write → read → same fields → write again → same bytes, over generated messages of every type and flag combination.</summary>
public sealed class RoundTripTests
{
    [Property(MaxTest = 400)]
    public Property Map_register_round_trips() => Prop.ForAll(Generators.MapRegister.ToArbitrary(), m =>
    {
        var bytes = m.ToArray();
        Assert.True(MapRegister.TryRead(bytes, out var back, out var error), error.ToString());
        Assert.Equal((m.ProxyMapReply, m.LispSecCapable, m.EidNotify, m.UseTtlForTimeout, m.MergeRequest, m.FromRtr, m.WantMapNotify),
            (back.ProxyMapReply, back.LispSecCapable, back.EidNotify, back.UseTtlForTimeout, back.MergeRequest, back.FromRtr, back.WantMapNotify));
        AssertSameBody(m, back);
        Assert.Equal(bytes, back.ToArray());
        Assert.True(LispMessage.TryRead(bytes, out var any, out _));
        Assert.IsType<MapRegister>(any);
    });

    [Property(MaxTest = 400)]
    public Property Map_notify_round_trips() => Prop.ForAll(Generators.MapNotify.ToArbitrary(), m =>
    {
        var bytes = m.ToArray();
        Assert.True(LispMessage.TryRead(bytes, out var any, out var error), error.ToString());
        var back = Assert.IsType<MapNotify>(any);
        AssertSameBody(m, back);
        Assert.Equal(bytes, back.ToArray());
    });

    [Property(MaxTest = 400)]
    public Property Map_notify_ack_round_trips() => Prop.ForAll(Generators.MapNotifyAck.ToArbitrary(), m =>
    {
        var bytes = m.ToArray();
        Assert.True(LispMessage.TryRead(bytes, out var any, out var error), error.ToString());
        var back = Assert.IsType<MapNotifyAck>(any);
        AssertSameBody(m, back);
        Assert.Equal(bytes, back.ToArray());
    });

    [Property(MaxTest = 150)]
    public Property Signed_messages_verify_after_a_round_trip() => Prop.ForAll(Generators.MapRegister.ToArbitrary(), m =>
    {
        var bytes = m.ToSignedArray(Samples.Key);
        Assert.True(MapRegister.TryReadView(bytes, out var view, out var error), error.ToString());
        Assert.Equal(m.Algorithm != Auth.AuthAlgorithm.None, view.VerifyAuthentication(Samples.Key, Auth.AuthPurpose.MapRegister));
        Assert.Equal(m.AuthenticationLength, view.AuthenticationLength);
    });

    [Property(MaxTest = 400)]
    public Property Map_request_round_trips() => Prop.ForAll(Generators.MapRequest.ToArbitrary(), m =>
    {
        var bytes = m.ToArray();
        Assert.True(LispMessage.TryRead(bytes, out var any, out var error), error.ToString());
        var back = Assert.IsType<MapRequest>(any);
        Assert.Equal((m.Authoritative, m.Probe, m.Smr, m.Pitr, m.SmrInvoked, m.LocalXtr, m.DontMapReply, m.Nonce),
            (back.Authoritative, back.Probe, back.Smr, back.Pitr, back.SmrInvoked, back.LocalXtr, back.DontMapReply, back.Nonce));
        Assert.Equal(m.SourceEid, back.SourceEid);
        Assert.Equal(m.ItrRlocs, back.ItrRlocs);
        Assert.Equal(m.Records, back.Records);
        Assert.Equal(m.MapReplyRecord, back.MapReplyRecord);
        Assert.Equal(bytes, back.ToArray());

        Assert.True(MapRequestView.TryRead(bytes, out var view, out _));
        Assert.Equal(m.MapReplyRecord is not null, view.MapDataPresent);
        Assert.Equal(m.ItrRlocs.Count, view.ItrRlocCount);
    });

    [Property(MaxTest = 400)]
    public Property Map_reply_round_trips() => Prop.ForAll(Generators.MapReply.ToArbitrary(), m =>
    {
        var bytes = m.ToArray();
        Assert.True(LispMessage.TryRead(bytes, out var any, out var error), error.ToString());
        var back = Assert.IsType<MapReply>(any);
        Assert.Equal((m.ProbeReply, m.EchoNonceCapable, m.Security, m.Nonce), (back.ProbeReply, back.EchoNonceCapable, back.Security, back.Nonce));
        Assert.Equal(m.Records, back.Records);
        Assert.Equal(bytes, back.ToArray());
    });

    [Property(MaxTest = 400)]
    public Property Ecm_round_trips_with_valid_inner_checksums() => Prop.ForAll(Generators.Ecm.ToArbitrary(), m =>
    {
        var bytes = m.ToArray();
        Assert.True(LispMessage.TryRead(bytes, out var any, out var error), error.ToString());
        var back = Assert.IsType<EncapsulatedControlMessage>(any);
        Assert.Equal((m.Security, m.DdtOriginated, m.ForwardToEtr, m.ToMapServer), (back.Security, back.DdtOriginated, back.ForwardToEtr, back.ToMapServer));
        Assert.Equal((m.InnerSource, m.InnerDestination, m.InnerSourcePort, m.InnerDestinationPort, m.InnerTtl),
            (back.InnerSource, back.InnerDestination, back.InnerSourcePort, back.InnerDestinationPort, back.InnerTtl));
        Assert.Equal(m.InnerMessage.ToArray(), back.InnerMessage.ToArray());
        Assert.Equal(bytes, back.ToArray());
    });

    [Property(MaxTest = 400)]
    public Property Data_plane_header_round_trips() => Prop.ForAll(Generators.DataHeader.ToArbitrary(), h =>
    {
        var bytes = new byte[DataPlaneHeader.Length];
        h.Write(bytes);
        Assert.True(DataPlaneHeader.TryRead(bytes, out var back, out var error), error.ToString());
        Assert.Equal(h, back);
    });

    [Property(MaxTest = 400)]
    public Property Mapping_record_and_address_round_trip_alone() => Prop.ForAll(Generators.Record.ToArbitrary(), r =>
    {
        var bytes = new byte[r.GetSerializedLength()];
        Assert.Equal(bytes.Length, r.Write(bytes));
        Assert.True(MappingRecord.TryRead(bytes, out var back, out var consumed, out var error), error.ToString());
        Assert.Equal(bytes.Length, consumed);
        Assert.Equal(r, back);
        foreach (var locator in r.Locators)
        {
            var a = new byte[locator.Address.GetSerializedLength()];
            locator.Address.Write(a);
            Assert.True(LispAddress.TryRead(a, out var address, out var used, out error), error.ToString());
            Assert.Equal((locator.Address, a.Length), (address, used));
        }
    });

    private static void AssertSameBody(AuthenticatedMessage expected, AuthenticatedMessage actual)
    {
        Assert.Equal((expected.Nonce, expected.KeyId, expected.Algorithm, expected.XtrId, expected.SiteId),
            (actual.Nonce, actual.KeyId, actual.Algorithm, actual.XtrId, actual.SiteId));
        Assert.Equal(expected.AuthenticationLength, actual.AuthenticationLength);
        Assert.Equal<MappingRecord>(expected.Records, actual.Records);
    }
}
