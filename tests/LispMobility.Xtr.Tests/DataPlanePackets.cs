using System.Buffers.Binary;
using System.Net;
using LispMobility.Lisp.Addressing;
using LispMobility.Lisp.Records;
using LispMobility.Lisp.Wire;
using LispMobility.Xtr.Caching;
using LispMobility.Xtr.DataPlane;

namespace LispMobility.Xtr.Tests;

/// <summary>Inner packets, a map-cache and signal recorders for the data-plane tests.</summary>
internal static class DataPlanePackets
{
    public static readonly DateTimeOffset T0 = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);

    /// <summary>An IPv4 or IPv6 UDP packet of <paramref name="length"/> bytes in all, at <paramref name="offset"/> of a fresh buffer.</summary>
    public static byte[] Udp(string source, string destination, ushort sourcePort, ushort destinationPort, int length = 64, byte ttl = 63, byte tos = 0xB8, bool df = true, int offset = ItrEncapsulator.Headroom)
    {
        var s = IPAddress.Parse(source);
        var d = IPAddress.Parse(destination);
        var buffer = new byte[offset + length];
        var p = buffer.AsSpan(offset, length);
        int header;
        if (s.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork)
        {
            header = 20;
            p[0] = 0x45;
            p[1] = tos;
            BinaryPrimitives.WriteUInt16BigEndian(p[2..], (ushort)length);
            BinaryPrimitives.WriteUInt16BigEndian(p[6..], df ? (ushort)0x4000 : (ushort)0);
            p[8] = ttl;
            p[9] = 17;
            s.TryWriteBytes(p[12..], out _);
            d.TryWriteBytes(p[16..], out _);
            BinaryPrimitives.WriteUInt16BigEndian(p[10..], InternetChecksum.Finish(InternetChecksum.Add(0, p[..20])));
        }
        else
        {
            header = 40;
            BinaryPrimitives.WriteUInt32BigEndian(p, 0x60000000u | ((uint)tos << 20));
            BinaryPrimitives.WriteUInt16BigEndian(p[4..], (ushort)(length - 40));
            p[6] = 17;
            p[7] = ttl;
            s.TryWriteBytes(p[8..], out _);
            d.TryWriteBytes(p[24..], out _);
        }

        BinaryPrimitives.WriteUInt16BigEndian(p[header..], sourcePort);
        BinaryPrimitives.WriteUInt16BigEndian(p[(header + 2)..], destinationPort);
        BinaryPrimitives.WriteUInt16BigEndian(p[(header + 4)..], (ushort)(length - header));
        for (var i = header + 8; i < length; i++) p[i] = (byte)i;
        return buffer;
    }

    public static MappingRecord Record(string eid, params Locator[] locators) => new() { Eid = EidPrefix.Parse(eid), Locators = locators };

    public static Locator L(string address, byte priority = 1, byte weight = 100) => new(LispAddress.Parse(address), priority, weight);

    public static UInt128 Bits(string address) => IpPacket.Bits(LispAddress.Parse(address));

    /// <summary>What the data plane asked of the control plane.</summary>
    public sealed class Signals : IDataPlaneSignals
    {
        public List<LispAddress> Misses { get; } = [];

        public List<(LispAddress Itr, LispAddress Eid)> Solicited { get; } = [];

        public void MapCacheMiss(LispAddress destination) => Misses.Add(destination);

        public void SolicitItr(LispAddress itrRloc, LispAddress eid) => Solicited.Add((itrRloc, eid));

        public List<(LispAddress SourceEid, uint Bits, int Width)> StatusBits { get; } = [];

        public void LocatorStatusBits(LispAddress sourceEid, uint bits, int width) => StatusBits.Add((sourceEid, bits, width));
    }
}
