using System.Buffers.Binary;
using LispMobility.Lisp.Addressing;
using LispMobility.Lisp.Auth;
using LispMobility.Lisp.Messages;
using LispMobility.Lisp.Records;

namespace LispMobility.Lisp.Tests;

/// <summary>Seeded random and mutated datagrams: truncations, bit flips, huge counts, lying LCAF lengths, random bytes.</summary>
internal sealed class Fuzzer
{
    private readonly Random _random;
    private readonly byte[][] _corpus;

    public Fuzzer(int seed)
    {
        _random = new Random(seed);
        _corpus = Corpus().ToArray();
    }

    /// <summary>Valid messages of every kind to mutate from.</summary>
    public static IEnumerable<byte[]> Corpus()
    {
        yield return Samples.Request().ToArray();
        yield return Samples.Smr().ToArray();
        yield return Samples.RequestWithReplyRecord().ToArray();
        yield return Samples.IidIpv6Request().ToArray();
        yield return Samples.EcmV4().ToArray();
        yield return Samples.EcmV6().ToArray();
        yield return Samples.Reply().ToArray();
        yield return Samples.NegativeReply().ToArray();
        yield return Samples.Ipv6IidReply().ToArray();
        yield return Samples.Register().ToSignedArray(Samples.Key);
        yield return Samples.SimpleRegister().ToSignedArray(Samples.Key);
        yield return (Samples.SimpleRegister() with { Algorithm = AuthAlgorithm.HmacSha1_96, TruncateMac = true }).ToSignedArray(Samples.Key);
        yield return Samples.Notify().ToSignedArray(Samples.Key);
        yield return Samples.NotifyAck().ToSignedArray(Samples.Key);
        yield return KnownAnswerTests.Bytes(KnownAnswerTests.AfiListRecordHex);
        yield return new MapReply
        {
            Nonce = 1,
            Records = [new MappingRecord
            {
                Eid = EidPrefix.Parse("[7]10.0.0.0/8"),
                Locators = [
                    new Locator(LispAddress.FromAfiList([LispAddress.Parse("192.0.2.1"), LispAddress.Parse("[5]2001:db8::1")])),
                    new Locator(LispAddress.FromOpaqueLcaf(5, 0, 0, [1, 2, 3, 4])),
                ],
            }],
        }.ToArray();
        yield return KnownAnswerTests.Bytes(KnownAnswerTests.DataHeaderHex);
    }

    /// <summary>The next buffer; <paramref name="scratch"/> is reused, the returned span lies inside it.</summary>
    public Span<byte> Next(byte[] scratch)
    {
        var kind = _random.Next(10);
        if (kind == 0)
        {
            // Pure noise, with a plausible type nibble most of the time so that the readers go past the first byte.
            var length = _random.Next(0, 160);
            var noise = scratch.AsSpan(0, length);
            _random.NextBytes(noise);
            if (length > 0 && _random.Next(4) != 0) noise[0] = (byte)((_random.Next(1, 9) << 4) | (noise[0] & 0x0F));
            return noise;
        }

        var source = _corpus[_random.Next(_corpus.Length)];
        var buffer = scratch.AsSpan(0, source.Length);
        source.CopyTo(buffer);
        var mutations = 1 + _random.Next(3);
        for (var i = 0; i < mutations; i++) buffer = Mutate(buffer, scratch);
        return buffer;
    }

    private Span<byte> Mutate(Span<byte> buffer, byte[] scratch)
    {
        if (buffer.Length == 0) return buffer;
        switch (_random.Next(8))
        {
            case 0: // truncation
                return buffer[.._random.Next(buffer.Length)];
            case 1: // bit flips
                for (var n = 1 + _random.Next(4); n > 0; n--) buffer[_random.Next(buffer.Length)] ^= (byte)(1 << _random.Next(8));
                return buffer;
            case 2: // huge record count and ITR-RLOC count
                if (buffer.Length > 3) buffer[3] = (byte)(_random.Next(2) == 0 ? 255 : _random.Next(256));
                if (buffer.Length > 2 && _random.Next(2) == 0) buffer[2] |= 0x1F;
                return buffer;
            case 3: // an LCAF length that lies
                for (var i = 0; i + 8 <= buffer.Length; i++)
                {
                    if (buffer[i] == 0x40 && buffer[i + 1] == 0x03 && _random.Next(2) == 0)
                    {
                        var lie = _random.Next(3) switch { 0 => 0xFFFF, 1 => _random.Next(0, 8), _ => BinaryPrimitives.ReadUInt16BigEndian(buffer[(i + 6)..]) + _random.Next(-4, 5) };
                        BinaryPrimitives.WriteUInt16BigEndian(buffer[(i + 6)..], (ushort)lie);
                    }
                }

                return buffer;
            case 4: // a length field (auth length, IP total/payload length, UDP length) set at random
                var at = _random.Next(Math.Max(1, buffer.Length - 1));
                if (at + 2 <= buffer.Length) BinaryPrimitives.WriteUInt16BigEndian(buffer[at..], (ushort)_random.Next(0x10000));
                return buffer;
            case 5: // bytes appended
                var extra = Math.Min(_random.Next(1, 40), scratch.Length - buffer.Length);
                _random.NextBytes(scratch.AsSpan(buffer.Length, extra));
                return scratch.AsSpan(0, buffer.Length + extra);
            case 6: // a run of bytes removed from the middle
                var from = _random.Next(buffer.Length);
                var count = Math.Min(_random.Next(1, 9), buffer.Length - from);
                buffer[(from + count)..].CopyTo(buffer[from..]);
                return buffer[..^count];
            default: // an AFI overwritten with a known or unknown one
                var pos = _random.Next(buffer.Length);
                if (pos + 2 <= buffer.Length) BinaryPrimitives.WriteUInt16BigEndian(buffer[pos..], (ushort)(_random.Next(5) switch { 0 => 0, 1 => 1, 2 => 2, 3 => 16387, _ => _random.Next(0x10000) }));
                return buffer;
        }
    }
}
