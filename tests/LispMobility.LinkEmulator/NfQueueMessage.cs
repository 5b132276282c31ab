using System.Buffers.Binary;
using System.Runtime.InteropServices;

namespace LispMobility.LinkEmulator;

/// <summary>What one netlink message from the queue subsystem meant to us.</summary>
public enum NfQueueEventKind
{
    /// <summary>NFQNL_MSG_PACKET: a packet waits for our verdict.</summary>
    Packet,

    /// <summary>NLMSG_ERROR with errno 0: the kernel acknowledged a request.</summary>
    Ack,

    /// <summary>NLMSG_ERROR with an errno: the kernel refused a request.</summary>
    Error,

    /// <summary>A message we do not act on (NLMSG_NOOP, another subsystem's type).</summary>
    Other,

    /// <summary>A header or attribute whose length does not fit what the datagram holds.</summary>
    Malformed,
}

/// <summary>One decoded message: the packet id of a queued packet, or the errno and sequence of an acknowledgement.</summary>
public readonly record struct NfQueueEvent(NfQueueEventKind Kind, uint PacketId = 0, int Errno = 0, uint Sequence = 0);

/// <summary>
/// The nfnetlink_queue messages of linux/netfilter/nfnetlink_queue.h and linux/netfilter/nfnetlink.h: a netlink header
/// (host byte order), struct nfgenmsg (family, version, queue number big-endian), then 4-byte-aligned attributes whose
/// values are big-endian.
/// </summary>
public static class NfQueueMessage
{
    /// <summary>struct nlmsghdr and struct nfgenmsg.</summary>
    public const int NetlinkHeaderLength = 16, NfgenHeaderLength = 4;

    /// <summary>NFNL_SUBSYS_QUEUE in the high byte of the message type.</summary>
    public const ushort PacketType = 3 << 8, VerdictType = (3 << 8) | 1, ConfigType = (3 << 8) | 2;

    /// <summary>NLMSG_ERROR.</summary>
    public const ushort NetlinkError = 2;

    /// <summary>Netfilter verdicts (linux/netfilter.h).</summary>
    public const uint NfDrop = 0, NfAccept = 1;

    private const ushort FRequest = 1, FAck = 4;
    private const ushort CfgCmd = 1, CfgParams = 2, CfgQueueMaxLength = 3; // NFQA_CFG_*
    private const ushort PacketHeader = 1, VerdictHeader = 2; // NFQA_PACKET_HDR, NFQA_VERDICT_HDR
    private const byte CmdBind = 1, CopyMeta = 1; // NFQNL_CFG_CMD_BIND, NFQNL_COPY_META
    private const ushort AttributeTypeMask = 0x3fff; // without NLA_F_NESTED and NLA_F_NET_BYTEORDER

    /// <summary>
    /// NFQNL_MSG_CONFIG asking for an ACK: bind <paramref name="queue"/> for <paramref name="family"/>, copy metadata only
    /// (the packet id is all a verdict needs), and let the kernel hold up to <paramref name="maxLength"/> packets for us.
    /// </summary>
    public static byte[] Bind(ushort queue, byte family, uint maxLength, uint sequence)
    {
        var message = new byte[NetlinkHeaderLength + NfgenHeaderLength + Align(4 + 4) + Align(4 + 5) + Align(4 + 4)];
        var span = message.AsSpan();
        Header(span, ConfigType, FRequest | FAck, sequence, family, queue);
        var at = NetlinkHeaderLength + NfgenHeaderLength;
        at = Attribute(span, at, CfgCmd, [CmdBind, 0, 0, family]); // struct nfqnl_msg_config_cmd: command, pad, pf (be16)
        Span<byte> parameters = stackalloc byte[5]; // struct nfqnl_msg_config_params (packed): copy_range (be32), copy_mode
        BinaryPrimitives.WriteUInt32BigEndian(parameters, 0);
        parameters[4] = CopyMeta;
        at = Attribute(span, at, CfgParams, parameters);
        Span<byte> max = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(max, maxLength);
        Attribute(span, at, CfgQueueMaxLength, max);
        return message;
    }

    /// <summary>NFQNL_MSG_VERDICT for one packet, without an ACK (the kernel still reports a refused verdict).</summary>
    public static byte[] Verdict(ushort queue, uint packetId, uint verdict)
    {
        var message = new byte[NetlinkHeaderLength + NfgenHeaderLength + Align(4 + 8)];
        var span = message.AsSpan();
        Header(span, VerdictType, FRequest, 0, 0, queue);
        Span<byte> value = stackalloc byte[8]; // struct nfqnl_msg_verdict_hdr: verdict, id (both be32)
        BinaryPrimitives.WriteUInt32BigEndian(value, verdict);
        BinaryPrimitives.WriteUInt32BigEndian(value[4..], packetId);
        Attribute(span, NetlinkHeaderLength + NfgenHeaderLength, VerdictHeader, value);
        return message;
    }

    /// <summary>Decodes every message of one received datagram into <paramref name="events"/>; stops at the first malformed one.</summary>
    public static void Read(ReadOnlySpan<byte> datagram, List<NfQueueEvent> events)
    {
        while (datagram.Length >= NetlinkHeaderLength)
        {
            var length = (int)MemoryMarshal.Read<uint>(datagram);
            if (length < NetlinkHeaderLength || length > datagram.Length)
            {
                events.Add(new NfQueueEvent(NfQueueEventKind.Malformed));
                return;
            }

            var type = MemoryMarshal.Read<ushort>(datagram[4..]);
            var sequence = MemoryMarshal.Read<uint>(datagram[8..]);
            var payload = datagram[NetlinkHeaderLength..length];
            events.Add(type switch
            {
                NetlinkError => ReadError(payload, sequence),
                PacketType => ReadPacket(payload),
                _ => new NfQueueEvent(NfQueueEventKind.Other, Sequence: sequence),
            });
            datagram = datagram[Math.Min(Align(length), datagram.Length)..];
        }
    }

    // struct nlmsgerr: a negative errno (0 for an ACK), then the request's header.
    private static NfQueueEvent ReadError(ReadOnlySpan<byte> payload, uint sequence)
    {
        if (payload.Length < 4) return new NfQueueEvent(NfQueueEventKind.Malformed);
        var error = MemoryMarshal.Read<int>(payload);
        return error == 0
            ? new NfQueueEvent(NfQueueEventKind.Ack, Sequence: sequence)
            : new NfQueueEvent(NfQueueEventKind.Error, Errno: -error, Sequence: sequence);
    }

    // NFQNL_MSG_PACKET: nfgenmsg, then attributes; only NFQA_PACKET_HDR (struct nfqnl_msg_packet_hdr: packet_id be32,
    // hw_protocol be16, hook u8) matters for a verdict.
    private static NfQueueEvent ReadPacket(ReadOnlySpan<byte> payload)
    {
        if (payload.Length < NfgenHeaderLength) return new NfQueueEvent(NfQueueEventKind.Malformed);
        var attributes = payload[NfgenHeaderLength..];
        while (attributes.Length >= 4)
        {
            var length = MemoryMarshal.Read<ushort>(attributes);
            var type = (ushort)(MemoryMarshal.Read<ushort>(attributes[2..]) & AttributeTypeMask);
            if (length < 4 || length > attributes.Length) return new NfQueueEvent(NfQueueEventKind.Malformed);
            if (type == PacketHeader)
            {
                return length >= 4 + 7
                    ? new NfQueueEvent(NfQueueEventKind.Packet, PacketId: BinaryPrimitives.ReadUInt32BigEndian(attributes[4..]))
                    : new NfQueueEvent(NfQueueEventKind.Malformed);
            }

            attributes = attributes[Math.Min(Align(length), attributes.Length)..];
        }

        return new NfQueueEvent(NfQueueEventKind.Malformed); // a packet without its header cannot be answered
    }

    /// <summary>NLMSG_ALIGN / NLA_ALIGN: 4 bytes.</summary>
    public static int Align(int length) => (length + 3) & ~3;

    private static void Header(Span<byte> message, ushort type, ushort flags, uint sequence, byte family, ushort queue)
    {
        MemoryMarshal.Write(message, (uint)message.Length);
        MemoryMarshal.Write(message[4..], type);
        MemoryMarshal.Write(message[6..], flags);
        MemoryMarshal.Write(message[8..], sequence);
        // nlmsg_pid stays 0: the message is for the kernel.
        message[NetlinkHeaderLength] = family;
        message[NetlinkHeaderLength + 1] = 0; // NFNETLINK_V0
        BinaryPrimitives.WriteUInt16BigEndian(message[(NetlinkHeaderLength + 2)..], queue);
    }

    private static int Attribute(Span<byte> message, int at, ushort type, ReadOnlySpan<byte> value)
    {
        MemoryMarshal.Write(message[at..], (ushort)(4 + value.Length));
        MemoryMarshal.Write(message[(at + 2)..], type);
        value.CopyTo(message[(at + 4)..]);
        return at + Align(4 + value.Length);
    }
}
