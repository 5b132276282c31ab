using System.Runtime.InteropServices;
using System.Text;

namespace LispMobility.Platform.Netlink;

/// <summary>rtnetlink numbers from linux/netlink.h, linux/rtnetlink.h, linux/if_link.h, linux/if_addr.h.</summary>
public static class Rtnl
{
    public const ushort NlmsgError = 2, NlmsgDone = 3;
    public const ushort NewLink = 16, DelLink = 17, GetLink = 18, NewAddr = 20, GetAddr = 22;
    public const ushort FRequest = 0x1, FMulti = 0x2, FAck = 0x4, FDump = 0x300;
    public const ushort FReplace = 0x100, FExcl = 0x200, FCreate = 0x400;
    public const ushort FCapped = 0x100, FAckTlvs = 0x200; // flags on an NLMSG_ERROR reply
    public const ushort IflaAddress = 1, IflaIfname = 3, IflaLink = 5, IflaLinkinfo = 18;
    public const ushort IflaInfoKind = 1, IflaInfoData = 2, IflaMacvlanMode = 1;
    public const uint MacvlanModeBridge = 4;
    public const ushort IfaAddress = 1, IfaLocal = 2;
    public const uint IffUp = 1, IffRunning = 0x40;
    public const ushort NlmsgerrAttrMsg = 1;
    public const int HeaderLength = 16, IfinfoLength = 16, IfaddrLength = 8, RtmsgLength = 12;
    public const ushort NewRoute = 24, DelRoute = 25, GetRoute = 26;
    public const ushort RtaDst = 1, RtaOif = 4, RtaTable = 15;
    public const byte RtnUnicast = 1, RtnBlackhole = 6, RtScopeUniverse = 0, RtScopeLink = 253, RtTableMain = 254;
}

/// <summary>Builds one netlink request: header, fixed family header, then 4-byte-aligned attributes (host byte order).</summary>
public sealed class NetlinkMessage
{
    private byte[] _buffer = new byte[256];
    private int _length;

    public NetlinkMessage(ushort type, ushort flags)
    {
        _length = Rtnl.HeaderLength;
        Write(4, type);
        Write(6, flags);
    }

    public NetlinkMessage Ifinfo(int index, uint flags = 0, uint change = 0)
    {
        var at = Reserve(Rtnl.IfinfoLength);
        _buffer[at] = 0; // AF_UNSPEC
        Write(at + 4, index);
        Write(at + 8, flags);
        Write(at + 12, change);
        return this;
    }

    public NetlinkMessage Rtmsg(byte family, byte destinationLength, byte table, byte protocol, byte scope, byte type)
    {
        var at = Reserve(Rtnl.RtmsgLength);
        _buffer[at] = family;
        _buffer[at + 1] = destinationLength;
        _buffer[at + 4] = table;
        _buffer[at + 5] = protocol;
        _buffer[at + 6] = scope;
        _buffer[at + 7] = type;
        return this;
    }

    public NetlinkMessage Ifaddr(byte family, byte prefixLength, int index)
    {
        var at = Reserve(Rtnl.IfaddrLength);
        _buffer[at] = family;
        _buffer[at + 1] = prefixLength;
        Write(at + 4, index);
        return this;
    }

    public NetlinkMessage Attribute(ushort type, ReadOnlySpan<byte> value)
    {
        var at = Reserve(Align(4 + value.Length));
        Write(at, (ushort)(4 + value.Length));
        Write(at + 2, type);
        value.CopyTo(_buffer.AsSpan(at + 4));
        return this;
    }

    public NetlinkMessage Attribute(ushort type, string value)
    {
        var bytes = new byte[Encoding.ASCII.GetByteCount(value) + 1]; // NUL-terminated
        Encoding.ASCII.GetBytes(value, bytes);
        return Attribute(type, bytes);
    }

    public NetlinkMessage Attribute(ushort type, uint value) => Attribute(type, MemoryMarshal.AsBytes(new ReadOnlySpan<uint>(in value)));

    public int BeginNested(ushort type)
    {
        var at = Reserve(4);
        Write(at + 2, type);
        return at;
    }

    public NetlinkMessage EndNested(int at)
    {
        Write(at, (ushort)(_length - at));
        return this;
    }

    public byte[] ToArray(uint sequence)
    {
        Write(0, (uint)_length);
        Write(8, sequence);
        return _buffer.AsSpan(0, _length).ToArray();
    }

    public static int Align(int length) => (length + 3) & ~3;

    private int Reserve(int count)
    {
        if (_length + count > _buffer.Length) Array.Resize(ref _buffer, Math.Max(_buffer.Length * 2, _length + count));
        var at = _length;
        _buffer.AsSpan(at, count).Clear();
        _length += count;
        return at;
    }

    private void Write<T>(int at, T value) where T : struct => MemoryMarshal.Write(_buffer.AsSpan(at), in value);
}

/// <summary>Reads netlink attributes; every length is checked against what remains before slicing.</summary>
public static class NetlinkAttributes
{
    public static Dictionary<ushort, byte[]> Parse(ReadOnlySpan<byte> data)
    {
        var attributes = new Dictionary<ushort, byte[]>();
        while (data.Length >= 4)
        {
            var length = MemoryMarshal.Read<ushort>(data);
            var type = (ushort)(MemoryMarshal.Read<ushort>(data[2..]) & 0x3FFF); // drop NLA_F_NESTED / NET_BYTEORDER
            if (length < 4 || length > data.Length) break;
            attributes[type] = data[4..length].ToArray();
            var next = NetlinkMessage.Align(length);
            if (next >= data.Length) break;
            data = data[next..];
        }
        return attributes;
    }

    public static string? String(Dictionary<ushort, byte[]> attributes, ushort type) =>
        attributes.TryGetValue(type, out var v) ? Encoding.ASCII.GetString(v).TrimEnd('\0') : null;

    public static uint? UInt32(Dictionary<ushort, byte[]> attributes, ushort type) =>
        attributes.TryGetValue(type, out var v) && v.Length >= 4 ? MemoryMarshal.Read<uint>(v) : null;
}
