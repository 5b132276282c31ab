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

    [Fact]
    public void Long_inputs_summed_32_bytes_a_step_give_the_word_by_word_checksum_at_every_tail_and_alignment()
    {
        var random = new Random(6936);
        var bytes = new byte[70_000];
        random.NextBytes(bytes);
        foreach (var length in new[] { 64, 65, 95, 96, 97, 127, 1448, 1449, 1500, 9000, 65_535, 65_536, 69_990 })
            for (var start = 0; start < 4; start++)
                Assert.Equal(Reference(bytes.AsSpan(start, length)), InternetChecksum.Finish(InternetChecksum.Add(0, bytes.AsSpan(start, length))));
    }

    [Fact]
    public void Inputs_past_the_vector_lanes_fold_interval_still_give_the_word_by_word_checksum()
    {
        // 2 MB of 0xFF: 65,536 vector steps, twice the steps after which the 32-bit lanes are widened; without that they overflow.
        var ones = new byte[2 << 20];
        Array.Fill(ones, (byte)0xFF);
        Assert.Equal(Reference(ones), InternetChecksum.Finish(InternetChecksum.Add(0, ones)));
        var random = new byte[(2 << 20) + 37];
        new Random(1624).NextBytes(random);
        Assert.Equal(Reference(random), InternetChecksum.Finish(InternetChecksum.Add(0, random)));
    }

    [Fact]
    public void Copy_and_add_copies_the_bytes_and_gives_the_sum_add_gives_in_one_pass()
    {
        var random = new Random(4341);
        var bytes = new byte[70_000];
        random.NextBytes(bytes);
        foreach (var length in new[] { 0, 1, 2, 3, 31, 63, 64, 65, 97, 1447, 1448, 9001, 65_535 })
        {
            var source = bytes.AsSpan(length % 4, length);
            var destination = new byte[length + 8];
            var sum = InternetChecksum.CopyAndAdd(0x1234, source, destination);
            Assert.Equal(InternetChecksum.Add(0x1234, source), sum);
            Assert.True(source.SequenceEqual(destination.AsSpan(0, length)), $"{length} bytes copied");
            Assert.All(destination[length..], b => Assert.Equal(0, b));
        }

        Assert.Throws<ArgumentException>(() => InternetChecksum.CopyAndAdd(0, bytes.AsSpan(0, 100), new byte[99]));
    }

    // RFC 1071 word by word, in 64 bits so that megabytes do not overflow the reference itself.
    private static ushort Reference(ReadOnlySpan<byte> data)
    {
        ulong sum = 0;
        var i = 0;
        for (; i + 1 < data.Length; i += 2) sum += BinaryPrimitives.ReadUInt16BigEndian(data[i..]);
        if (i < data.Length) sum += (uint)(data[i] << 8);
        while ((sum >> 16) != 0) sum = (sum & 0xFFFF) + (sum >> 16);
        return (ushort)~sum;
    }
}
