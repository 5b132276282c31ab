using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;

namespace LispMobility.Agent.Security;

/// <summary>The management API's bearer token: 32 random bytes, base64url, kept in a file only the service user can read.</summary>
/// <remarks>
/// The installer creates the file (mode 0600, owned by the service user); the agent only reads it, and refuses one that
/// group or others can open: a token readable by every local user would make the loopback-only API everyone's.
/// <see cref="ToString"/> never shows the value, so a token passed to a log call by mistake leaks nothing.
/// </remarks>
public sealed class ApiToken
{
    /// <summary>Random bytes in a token this class creates.</summary>
    public const int TokenBytes = 32;

    // Unix permission bits that let anyone but the owner read, write or execute the file.
    private const UnixFileMode GroupOrOthers = UnixFileMode.GroupRead | UnixFileMode.GroupWrite | UnixFileMode.GroupExecute
        | UnixFileMode.OtherRead | UnixFileMode.OtherWrite | UnixFileMode.OtherExecute;

    private readonly byte[] _utf8;

    private ApiToken(string value)
    {
        Value = value;
        _utf8 = Encoding.UTF8.GetBytes(value);
    }

    /// <summary>The token text, as sent after <c>Bearer </c>. Keep it out of logs.</summary>
    public string Value { get; }

    /// <summary>Writes a new random token to <paramref name="path"/> with mode 0600; fails if the file exists.</summary>
    /// <exception cref="ApiTokenException">The file exists or cannot be written.</exception>
    public static ApiToken Create(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        var token = new ApiToken(Base64Url.EncodeToString(RandomNumberGenerator.GetBytes(TokenBytes)));
        var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write, Share = FileShare.None };
        // The mode is set by open(2) itself, so there is no moment when the file exists with wider permissions.
        if (!OperatingSystem.IsWindows()) options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        try
        {
            using var stream = new FileStream(path, options);
            stream.Write(Encoding.ASCII.GetBytes(token.Value + "\n"));
        }
        catch (IOException e) when (File.Exists(path))
        {
            throw new ApiTokenException($"API token file {path} already exists; not replacing it (delete it to make a new token)", e);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ApiTokenException($"cannot create API token file {path}: {e.Message}", e);
        }
        return token;
    }

    /// <summary>Reads the token from <paramref name="path"/>, checking its permissions first (Linux/macOS).</summary>
    /// <exception cref="ApiTokenException">Missing, unreadable, too open, empty or malformed; the message says which and what to do.</exception>
    public static ApiToken Read(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        string text;
        try
        {
            if (!OperatingSystem.IsWindows())
            {
                var mode = File.GetUnixFileMode(path);
                if ((mode & GroupOrOthers) != 0)
                    throw new ApiTokenException(
                        $"API token file {path} has mode {FormatMode(mode)}: group or others can access it; " +
                        $"run 'chmod 600 {path}' (the file must be readable by the service user only)");
            }
            text = File.ReadAllText(path, Encoding.UTF8);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new ApiTokenException($"API token file {path} does not exist (the installer creates it)", e);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ApiTokenException($"cannot read API token file {path}: {e.Message}", e);
        }
        return Parse(text, path);
    }

    /// <summary>Reads the token file, creating it (0600) first when it does not exist — for a run outside the installer.</summary>
    public static ApiToken ReadOrCreate(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (File.Exists(path)) return Read(path);
        try
        {
            return Create(path);
        }
        catch (ApiTokenException) when (File.Exists(path))
        {
            // Another process made it between the check and the create; use theirs.
            return Read(path);
        }
    }

    /// <summary>True when <paramref name="presented"/> is this token; takes the same time wherever the first difference is.</summary>
    public bool Matches(ReadOnlySpan<char> presented)
    {
        var bytes = new byte[Encoding.UTF8.GetByteCount(presented)];
        Encoding.UTF8.GetBytes(presented, bytes);
        return FixedTimeEquals(bytes, _utf8);
    }

    /// <summary>Constant-time equality of two secrets of any length.</summary>
    /// <remarks>Compares fixed-size SHA-256 digests, so the time does not reveal the expected length either.</remarks>
    public static bool FixedTimeEquals(ReadOnlySpan<byte> left, ReadOnlySpan<byte> right)
    {
        Span<byte> a = stackalloc byte[SHA256.HashSizeInBytes];
        Span<byte> b = stackalloc byte[SHA256.HashSizeInBytes];
        SHA256.HashData(left, a);
        SHA256.HashData(right, b);
        return CryptographicOperations.FixedTimeEquals(a, b) & left.Length == right.Length;
    }

    /// <summary>Never the secret: a token that ends up in a log line shows this.</summary>
    public override string ToString() => "ApiToken(****)";

    internal static ApiToken Parse(string text, string path)
    {
        // A trailing newline is what `echo` and editors leave; anything else inside the token is an error.
        var value = text.Trim();
        if (value.Length == 0)
            throw new ApiTokenException($"API token file {path} is empty");
        if (!Base64Url.IsValid(value, out var decodedLength) || value.Contains('=', StringComparison.Ordinal))
            throw new ApiTokenException($"API token file {path} does not hold a base64url token (characters A-Z a-z 0-9 - _ only, one line)");
        if (decodedLength < TokenBytes)
            throw new ApiTokenException(
                $"API token in {path} is too short: {decodedLength} bytes, at least {TokenBytes} required");
        return new ApiToken(value);
    }

    private static string FormatMode(UnixFileMode mode) => "0" + Convert.ToString((int)mode & 0x1FF, 8);
}

/// <summary>The API token file is missing, unreadable, too open or malformed; the message names the file and the fix.</summary>
public sealed class ApiTokenException : Exception
{
    /// <summary>Creates the exception.</summary>
    public ApiTokenException() { }

    /// <summary>Creates the exception with a message.</summary>
    public ApiTokenException(string message) : base(message) { }

    /// <summary>Creates the exception with a message and its cause.</summary>
    public ApiTokenException(string message, Exception innerException) : base(message, innerException) { }
}
