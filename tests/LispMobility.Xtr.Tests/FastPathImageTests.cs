using System.Runtime.Versioning;
using System.Security.Cryptography;
using LispMobility.Platform.DataPlane.FastPath;

namespace LispMobility.Xtr.Tests;

/// <summary>The fast path's compiled programs are those of the C file in the tree, and carry only what the loader handles.</summary>
public sealed class FastPathImageTests
{
    [Fact]
    public void The_generated_programs_were_compiled_from_the_c_file_in_the_tree()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "LispMobility.sln"))) dir = dir.Parent;
        Assert.NotNull(dir);
        var source = Path.Combine(dir.FullName, "src", "LispMobility.Platform", "DataPlane", "FastPath", "lisp_fastpath.c");
        var digest = Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(source)));
        Assert.True(digest == LispFastPathImage.SourceSha256, "lisp_fastpath.c changed since LispFastPathImage.g.cs was generated: run scripts/gen-fastpath.sh");
    }

    [Fact]
    [SupportedOSPlatform("linux")]
    public void Every_map_load_names_a_map_the_loader_creates_and_sits_on_a_64_bit_load()
    {
        var maps = KernelFastPath.Maps.Select(m => m.Name).ToList();
        foreach (var image in new[] { LispFastPathImage.LispItr, LispFastPathImage.LispEtr, LispFastPathImage.LispVxlan })
        {
            Assert.Equal(0, image.Instructions.Length % 8);
            Assert.NotEmpty(image.Maps);
            Assert.All(image.Maps, m =>
            {
                Assert.Contains(m.Map, maps);
                Assert.Equal(0x18, image.Instructions[m.Instruction * 8]);
            });
        }
    }
}
