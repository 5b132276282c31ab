using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;

namespace LispMobility.Fuzz.Tests;

/// <summary>
/// FsCheck over mutations of the golden vectors, through the fuzz targets' own invariants: whatever a reader accepts
/// (valid input not written by us included) writes back to bytes that read and write again unchanged, views agree with
/// readers, and the engines neither throw nor send what does not read.
/// </summary>
public sealed class MutationProperties
{
    private static readonly string SeedDir = Path.Combine(FindRoot(), "tests", "LispMobility.Fuzz", "seeds");

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "LispMobility.sln"))) return dir.FullName;
        }

        throw new InvalidOperationException("LispMobility.sln not found above " + AppContext.BaseDirectory);
    }

    // A seed of the target with up to 8 edits: a byte set, a bit flipped, the end cut, or bytes appended.
    private static Gen<byte[]> Mutated(string target)
    {
        var seeds = Directory.GetFiles(Path.Combine(SeedDir, target)).Order(StringComparer.Ordinal).Select(File.ReadAllBytes).ToArray();
        var edit = from kind in Gen.Choose(0, 3) from position in Gen.Choose(0, int.MaxValue) from value in Gen.Choose(0, 255) select (kind, position, value);
        return from seed in Gen.Elements(seeds)
               from edits in Gen.Choose(0, 8).SelectMany(n => Gen.ArrayOf(edit, n))
               select Apply(seed, edits);
    }

    private static byte[] Apply(byte[] seed, (int Kind, int Position, int Value)[] edits)
    {
        var bytes = new List<byte>(seed);
        foreach (var (kind, position, value) in edits)
        {
            if (bytes.Count == 0) break;
            var at = position % bytes.Count;
            switch (kind)
            {
                case 0: bytes[at] = (byte)value; break;
                case 1: bytes[at] ^= (byte)(1 << (value % 8)); break;
                case 2: bytes.RemoveRange(at, bytes.Count - at); break;
                default: bytes.Add((byte)value); break;
            }
        }

        return [.. bytes];
    }

    // One property per target (the engines are slower: fewer runs).
    private static Property KeepsTheInvariants(string target) =>
        Prop.ForAll(Mutated(target).ToArbitrary(), input => FuzzTargets.Run(target, input));

    [Property(MaxTest = 1000)]
    public Property Map_register_mutations_keep_the_targets_invariants() => KeepsTheInvariants("map-register");

    [Property(MaxTest = 1000)]
    public Property Map_notify_mutations_keep_the_targets_invariants() => KeepsTheInvariants("map-notify");

    [Property(MaxTest = 1000)]
    public Property Map_notify_ack_mutations_keep_the_targets_invariants() => KeepsTheInvariants("map-notify-ack");

    [Property(MaxTest = 1000)]
    public Property Map_request_mutations_keep_the_targets_invariants() => KeepsTheInvariants("map-request");

    [Property(MaxTest = 1000)]
    public Property Map_reply_mutations_keep_the_targets_invariants() => KeepsTheInvariants("map-reply");

    [Property(MaxTest = 1000)]
    public Property Ecm_mutations_keep_the_targets_invariants() => KeepsTheInvariants("ecm");

    [Property(MaxTest = 1000)]
    public Property Data_header_mutations_keep_the_targets_invariants() => KeepsTheInvariants("data-header");

    [Property(MaxTest = 1000)]
    public Property Address_mutations_keep_the_targets_invariants() => KeepsTheInvariants("address");

    [Property(MaxTest = 150)]
    public Property Map_server_engine_mutations_keep_the_targets_invariants() => KeepsTheInvariants("map-server");

    [Property(MaxTest = 150)]
    public Property Xtr_engine_mutations_keep_the_targets_invariants() => KeepsTheInvariants("xtr");
}
