using System.Buffers.Binary;
using LispMobility.Lisp.Wire;

namespace LispMobility.Lisp.Tests;

/// <summary>The ones'-complement sum, summed a machine word at a time, against RFC 1071's word-by-word definition.</summary>
public sealed class InternetChecksumTests
{
    private static uint WordByWord(uint sum, ReadOnlySpan<byte> data)
    {
        var i = 0;
        for (; i + 1 < data.Length; i += 2) sum += BinaryPrimitives.ReadUInt16BigEndian(data[i..]);
        if (i < data.Length) sum += (uint)(data[i] << 8);
        return sum;
    }

    [Fact]
    public void Every_length_and_alignment_gives_the_word_by_word_checksum()
    {
        var random = new Random(1071);
        var bytes = new byte[9000];
        random.NextBytes(bytes);
        for (var length = 0; length < 80; length++)
            for (var start = 0; start < 4; start++)
                Assert.Equal(InternetChecksum.Finish(WordByWord(0, bytes.AsSpan(start, length))), InternetChecksum.Finish(InternetChecksum.Add(0, bytes.AsSpan(start, length))));

        foreach (var length in new[] { 1500, 8999, 9000 })
            Assert.Equal(InternetChecksum.Finish(WordByWord(12345, bytes.AsSpan(9000 - length))), InternetChecksum.Finish(InternetChecksum.Add(12345, bytes.AsSpan(9000 - length))));

        // All ones: the carries of the 64-bit sum fold through every step.
        Array.Fill(bytes, (byte)0xFF);
        Assert.Equal(InternetChecksum.Finish(WordByWord(0xFFFF, bytes)), InternetChecksum.Finish(InternetChecksum.Add(0xFFFF, bytes)));
    }
}
