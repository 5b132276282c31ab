using LispMobility.TestSupport.Pcap;

namespace LispMobility.Fuzz.Tests;

/// <summary>
/// Every input kept with the fuzz targets (seeds, the regressions of crashes found, the corpus of a campaign) replays clean
/// in process on every test run; and what the Map-Server answers to all of them decodes in Wireshark without an error.
/// </summary>
public sealed class CorpusTests
{
    private static readonly string FuzzDir = Path.Combine(FindRoot(), "tests", "LispMobility.Fuzz");

    private static readonly System.Net.IPEndPoint MapServer4 = System.Net.IPEndPoint.Parse("127.30.0.100:4342"), MapServer6 = System.Net.IPEndPoint.Parse("[2001:db8::100]:4342");

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "LispMobility.sln"))) return dir.FullName;
        }

        throw new InvalidOperationException("LispMobility.sln not found above " + AppContext.BaseDirectory);
    }

    private static IEnumerable<string> Inputs(string target) =>
        new[] { "seeds", "regressions", "corpus" }.Select(kind => Path.Combine(FuzzDir, kind, target)).Where(Directory.Exists)
            .SelectMany(d => Directory.EnumerateFiles(d)).Order(StringComparer.Ordinal);

    public static TheoryData<string> Targets() => [.. FuzzTargets.Names];

    [Theory]
    [MemberData(nameof(Targets))]
    public void Every_kept_input_runs_clean_through_its_target(string target)
    {
        var inputs = Inputs(target).ToList();
        Assert.NotEmpty(inputs); // every target has seeds: an empty folder would make this test pass for nothing
        foreach (var file in inputs)
        {
            var exception = Record.Exception(() => FuzzTargets.Run(target, File.ReadAllBytes(file)));
            Assert.True(exception is null, $"{Path.GetFileName(file)}: {exception}");
        }
    }

    [Fact]
    public void The_five_smrs_that_silenced_the_xtr_are_kept_as_a_regression()
    {
        var file = Path.Combine(FuzzDir, "regressions", "xtr", "issue12-five-lcaf-smrs.bin");
        FuzzTargets.Run("xtr", File.ReadAllBytes(file)); // throws "no Map-Register left the xTR" before the fix
    }

    [Fact]
    public void The_map_servers_replies_to_the_whole_corpus_decode_in_tshark_without_a_malformed_flag()
    {
        Assert.True(Tshark.IsAvailable, "tshark is not installed; scripts/test.sh installs it (apt-get install tshark)");
        var pcap = Path.Combine(Path.GetTempPath(), $"fuzz-replies-{Environment.ProcessId}-{Guid.NewGuid():N}.pcap");
        var replies = 0;
        try
        {
            using (var writer = PcapWriter.Create(pcap))
            {
                foreach (var target in new[] { "map-server", "map-request", "ecm", "map-register", "map-notify-ack" })
                {
                    foreach (var file in Inputs(target))
                    {
                        // Wire-target inputs are single messages: framed as one datagram from an ITR.
                        var bytes = File.ReadAllBytes(file);
                        var input = target == "map-server" ? bytes : [0x02, (byte)(bytes.Length >> 8), (byte)bytes.Length, .. bytes];
                        foreach (var (to, payload) in FuzzTargets.MapServerReplies(input))
                        {
                            writer.WriteUdp(to.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork ? MapServer4 : MapServer6, to, payload);
                            replies++;
                        }
                    }
                }
            }

            Assert.True(replies > 20, $"only {replies} replies: the corpus no longer reaches the Map-Server's answers");
            var result = Tshark.DecodeVerbose(pcap, "-d", "udp.port==4342,lisp", "-d", "udp.port==40000,lisp");
            result.EnsureSuccess();
            Assert.Equal(replies, result.Frames.Count);
            Assert.False(result.HasDecodeErrors, result.DecodeErrorLines);
        }
        finally
        {
            File.Delete(pcap);
        }
    }
}
