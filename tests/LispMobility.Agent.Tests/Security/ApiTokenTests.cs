using System.Buffers.Text;
using System.Text;
using LispMobility.Agent.Security;

namespace LispMobility.Agent.Tests.Security;

// Token files are guarded by Unix permissions here; on Windows the installer's ACL does that job.
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public sealed class ApiTokenTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("lm-token-").FullName;

    private string TokenPath => Path.Combine(_dir, "api-token");

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void Create_writes_32_random_bytes_as_base64url_with_mode_0600()
    {
        var token = ApiToken.Create(TokenPath);

        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(TokenPath));
        Assert.Equal(token.Value + "\n", File.ReadAllText(TokenPath));
        Assert.Equal(43, token.Value.Length);
        Assert.Equal(32, Base64Url.DecodeFromChars(token.Value).Length);
        Assert.DoesNotContain('=', token.Value);
        Assert.NotEqual(token.Value, ApiToken.Create(Path.Combine(_dir, "other")).Value);
    }

    [Fact]
    public void Create_refuses_to_replace_an_existing_file()
    {
        File.WriteAllText(TokenPath, "keep me");

        var e = Assert.Throws<ApiTokenException>(() => ApiToken.Create(TokenPath));

        Assert.Contains("already exists", e.Message, StringComparison.Ordinal);
        Assert.Equal("keep me", File.ReadAllText(TokenPath));
    }

    [Fact]
    public void Read_returns_what_Create_wrote()
    {
        var created = ApiToken.Create(TokenPath);

        var read = ApiToken.Read(TokenPath);

        Assert.Equal(created.Value, read.Value);
        Assert.True(read.Matches(created.Value));
    }

    [Theory]
    [InlineData(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead, "0640")]
    [InlineData(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.OtherRead, "0604")]
    [InlineData(UnixFileMode.UserRead | UnixFileMode.OtherWrite, "0402")]
    public void Read_refuses_a_file_group_or_others_can_access(UnixFileMode mode, string shown)
    {
        ApiToken.Create(TokenPath);
        File.SetUnixFileMode(TokenPath, mode);

        var e = Assert.Throws<ApiTokenException>(() => ApiToken.Read(TokenPath));

        Assert.Contains($"{TokenPath} has mode {shown}", e.Message, StringComparison.Ordinal);
        Assert.Contains($"chmod 600 {TokenPath}", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Read_accepts_an_owner_only_read_only_file()
    {
        var created = ApiToken.Create(TokenPath);
        File.SetUnixFileMode(TokenPath, UnixFileMode.UserRead);

        Assert.Equal(created.Value, ApiToken.Read(TokenPath).Value);
    }

    [Theory]
    [InlineData("", "is empty")]
    [InlineData("  \n", "is empty")]
    [InlineData("not a token!", "does not hold a base64url token")]
    [InlineData("abc+def/ghi", "does not hold a base64url token")]
    [InlineData("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", "does not hold a base64url token")]
    [InlineData("line1\nline2AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "does not hold a base64url token")]
    [InlineData("c2hvcnQ", "too short: 5 bytes")]
    public void Read_names_the_problem_with_a_malformed_file(string content, string expected)
    {
        File.WriteAllText(TokenPath, content);
        File.SetUnixFileMode(TokenPath, UnixFileMode.UserRead | UnixFileMode.UserWrite);

        var e = Assert.Throws<ApiTokenException>(() => ApiToken.Read(TokenPath));

        Assert.Contains(TokenPath, e.Message, StringComparison.Ordinal);
        Assert.Contains(expected, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Read_of_a_missing_file_says_so()
    {
        var e = Assert.Throws<ApiTokenException>(() => ApiToken.Read(TokenPath));
        Assert.Contains($"{TokenPath} does not exist", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ReadOrCreate_creates_once_then_reads_the_same_token()
    {
        var first = ApiToken.ReadOrCreate(TokenPath);
        var second = ApiToken.ReadOrCreate(TokenPath);

        Assert.Equal(first.Value, second.Value);
    }

    [Fact]
    public void Matches_only_the_exact_token()
    {
        var token = ApiToken.Create(TokenPath);

        Assert.True(token.Matches(token.Value));
        Assert.False(token.Matches(token.Value.AsSpan(0, token.Value.Length - 1)));
        Assert.False(token.Matches(token.Value + "A"));
        Assert.False(token.Matches(""));
        Assert.False(token.Matches(token.Value.ToUpperInvariant() == token.Value ? token.Value.ToLowerInvariant() : token.Value.ToUpperInvariant()));
    }

    [Fact]
    public void FixedTimeEquals_compares_content_and_length()
    {
        Assert.True(ApiToken.FixedTimeEquals("secret"u8, "secret"u8));
        Assert.False(ApiToken.FixedTimeEquals("secret"u8, "secreT"u8));
        Assert.False(ApiToken.FixedTimeEquals("secret"u8, "secret\0"u8));
        Assert.True(ApiToken.FixedTimeEquals(ReadOnlySpan<byte>.Empty, ReadOnlySpan<byte>.Empty));
    }

    [Fact]
    public void ToString_never_shows_the_secret()
    {
        var token = ApiToken.Create(TokenPath);

        Assert.DoesNotContain(token.Value, token.ToString(), StringComparison.Ordinal);
        Assert.DoesNotContain(token.Value, $"{token}", StringComparison.Ordinal);
        Assert.DoesNotContain(token.Value, Encoding.UTF8.GetString(Encoding.UTF8.GetBytes(token.ToString())), StringComparison.Ordinal);
    }
}
