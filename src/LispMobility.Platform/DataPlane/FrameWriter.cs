using System.Buffers.Binary;
using System.Runtime.Versioning;

namespace LispMobility.Platform.DataPlane;

/// <summary>
/// Writes packets into the host's stack through a <see cref="VethDevice"/>: each goes out of the far end as an Ethernet frame
/// to the near end (its virtio-net header first where the device has offloads), a batch per <c>sendmmsg</c> on an
/// AF_PACKET socket that bypasses the far end's queueing discipline. One loop owns it.
/// </summary>
[SupportedOSPlatform("linux")]
public sealed class FrameWriter : IPacketWriter
{
    private const int EthernetLength = 14, VnetLength = 10;
    private readonly int _fd;
    private readonly MessageBatch _batch;
    private readonly int _vnet;
    private readonly byte[] _ethernet = new byte[12];
    private long _dropped;

    /// <summary>Opens the socket on <paramref name="device"/>'s far end; batches of up to <paramref name="capacity"/> packets of up to <paramref name="maxPacket"/> bytes.</summary>
    public FrameWriter(VethDevice device, int capacity, int maxPacket)
    {
        ArgumentNullException.ThrowIfNull(device);
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxPacket, 1);
        _vnet = device.HasVnetHeader ? VnetLength : 0;
        device.NearMac.CopyTo(_ethernet);
        device.FarMac.CopyTo(_ethernet.AsSpan(6));
        _fd = AfPacket.Open();
        try
        {
            if (_vnet != 0) AfPacket.SetOption(_fd, AfPacket.PacketVnetHdr, 1, "PACKET_VNET_HDR");
            AfPacket.SetOption(_fd, AfPacket.PacketQdiscBypass, 1, "PACKET_QDISC_BYPASS");
            // Protocol 0: the socket only sends, nothing received is queued to it.
            AfPacket.Bind(_fd, device.PeerIndex, 0, device.PeerName);
        }
        catch
        {
            AfPacket.close(_fd);
            throw;
        }

        _batch = new MessageBatch(capacity, _vnet + EthernetLength + maxPacket);
    }

    /// <inheritdoc />
    public bool Batched => true;

    /// <inheritdoc />
    public int RingErrno => 0;

    /// <inheritdoc />
    public long Dropped => _dropped;

    /// <inheritdoc />
    public void Queue(ReadOnlySpan<byte> packet)
    {
        var frame = Reserve(_vnet + EthernetLength + packet.Length);
        if (frame.IsEmpty) return;
        frame[.._vnet].Clear();
        WriteEthernet(frame[_vnet..], packet);
        packet.CopyTo(frame[(_vnet + EthernetLength)..]);
    }

    /// <inheritdoc />
    public void QueueFramed(ReadOnlySpan<byte> framed)
    {
        if (_vnet == 0) throw new InvalidOperationException("the device takes no virtio-net header");
        var packet = framed[VnetLength..];
        var frame = Reserve(VnetLength + EthernetLength + packet.Length);
        if (frame.IsEmpty) return;
        framed[..VnetLength].CopyTo(frame);
        AfPacket.RebaseVnetHeader(frame[..VnetLength], EthernetLength);
        WriteEthernet(frame[VnetLength..], packet);
        packet.CopyTo(frame[(VnetLength + EthernetLength)..]);
    }

    private Span<byte> Reserve(int length)
    {
        var frame = _batch.Append(length);
        if (!frame.IsEmpty) return frame;
        Flush();
        frame = _batch.Append(length);
        if (frame.IsEmpty) _dropped++; // longer than a slot
        return frame;
    }

    private void WriteEthernet(Span<byte> frame, ReadOnlySpan<byte> packet)
    {
        _ethernet.CopyTo(frame);
        BinaryPrimitives.WriteUInt16BigEndian(frame[12..], packet.Length > 0 && packet[0] >> 4 == 6 ? (ushort)0x86DD : (ushort)0x0800);
    }

    /// <inheritdoc />
    public void Flush() => _dropped += _batch.SendAll(_fd); // refused: the near end's backlog full, or a malformed frame

    /// <inheritdoc />
    public void Dispose()
    {
        AfPacket.close(_fd);
        _batch.Dispose();
    }
}
