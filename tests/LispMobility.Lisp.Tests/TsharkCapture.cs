using System.Net;
using LispMobility.Lisp.Messages;
using LispMobility.TestSupport.Pcap;

namespace LispMobility.Lisp.Tests;

/// <summary>Writes one frame per sample message into a pcap and decodes the file once with tshark, for all tests of the class.</summary>
public sealed class TsharkCapture : IDisposable
{
    private static readonly IPEndPoint Xtr = new(IPAddress.Parse("192.0.2.2"), LispPorts.Control);
    private static readonly IPEndPoint MapServer = new(IPAddress.Parse("192.0.2.100"), LispPorts.Control);

    /// <summary>The messages, in frame order, with the name tests use to find them.</summary>
    public static readonly (string Name, Func<byte[]> Bytes, int Port)[] Messages =
    [
        ("map-request", () => Samples.Request().ToArray(), LispPorts.Control),
        ("smr", () => Samples.Smr().ToArray(), LispPorts.Control),
        ("map-request-with-reply-record", () => Samples.RequestWithReplyRecord().ToArray(), LispPorts.Control),
        ("map-request-iid-ipv6", () => Samples.IidIpv6Request().ToArray(), LispPorts.Control),
        ("ecm-ipv4", () => Samples.EcmV4().ToArray(), LispPorts.Control),
        ("ecm-ipv6", () => Samples.EcmV6().ToArray(), LispPorts.Control),
        ("map-reply", () => Samples.Reply().ToArray(), LispPorts.Control),
        ("map-reply-negative", () => Samples.NegativeReply().ToArray(), LispPorts.Control),
        ("map-reply-iid-ipv6", () => Samples.Ipv6IidReply().ToArray(), LispPorts.Control),
        ("map-register", () => Samples.Register().ToSignedArray(Samples.Key), LispPorts.Control),
        ("map-register-sha1-truncated", () => (Samples.SimpleRegister() with { Algorithm = Auth.AuthAlgorithm.HmacSha1_96, TruncateMac = true }).ToSignedArray(Samples.Key), LispPorts.Control),
        ("map-notify", () => Samples.Notify().ToSignedArray(Samples.Key), LispPorts.Control),
        ("map-notify-ack", () => Samples.NotifyAck().ToSignedArray(Samples.Key), LispPorts.Control),
        ("data-header", DataPacket, LispPorts.Data),
    ];

    public TsharkCapture()
    {
        Assert.True(Tshark.IsAvailable, "tshark is not installed; scripts/test.sh installs it (apt-get install tshark)");
        PcapPath = Path.Combine(Path.GetTempPath(), $"lisp-wire-{Environment.ProcessId}-{Guid.NewGuid():N}.pcap");
        using (var pcap = PcapWriter.Create(PcapPath))
        {
            foreach (var (_, bytes, port) in Messages)
            {
                pcap.WriteUdp(new IPEndPoint(Xtr.Address, port), new IPEndPoint(MapServer.Address, port), bytes());
            }
        }

        Result = Tshark.DecodeVerbose(PcapPath);
        Result.EnsureSuccess();
    }

    public string PcapPath { get; }

    public TsharkResult Result { get; }

    /// <summary>The -V text of the named message's frame.</summary>
    public string Frame(string name)
    {
        var index = Array.FindIndex(Messages, m => m.Name == name);
        Assert.True(index >= 0, $"no sample named {name}");
        Assert.Equal(Messages.Length, Result.Frames.Count);
        return Result.Frames[index];
    }

    private static byte[] DataPacket()
    {
        // A LISP data header followed by a small inner IPv4/UDP packet (EID to EID).
        var inner = PcapWriter.BuildUdpFrame(new IPEndPoint(IPAddress.Parse("10.1.1.7"), 5000), new IPEndPoint(IPAddress.Parse("10.9.9.9"), 5001), "hello"u8)[14..];
        var bytes = new byte[DataPlaneHeader.Length + inner.Length];
        Samples.DataHeader().Write(bytes);
        inner.CopyTo(bytes, DataPlaneHeader.Length);
        return bytes;
    }

    public void Dispose() => File.Delete(PcapPath);
}
