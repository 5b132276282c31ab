namespace LispMobility.Agent.Configuration;

/// <summary>
/// The operating system a configuration file is written for. Paths and OS-only settings are judged for it, not for the
/// machine that validates: a Windows host's file prepared on a Linux box (or in CI) is checked as Windows will read it.
/// </summary>
public enum TargetOs
{
    /// <summary>Linux: absolute paths start with '/'.</summary>
    Linux,

    /// <summary>Windows: absolute paths are drive-rooted (C:\...) or UNC (\\server\share\...).</summary>
    Windows,
}

/// <summary>The rules of <see cref="TargetOs"/> a validator applies.</summary>
public static class TargetOsRules
{
    /// <summary>The system this process runs on (macOS is judged as Linux: the same path rules, no Windows-only features).</summary>
    public static TargetOs Current => OperatingSystem.IsWindows() ? TargetOs.Windows : TargetOs.Linux;

    /// <summary>The name <c>config validate --os</c> takes and messages show.</summary>
    public static string Name(this TargetOs os) => os == TargetOs.Windows ? "windows" : "linux";

    /// <summary>
    /// Whether <paramref name="path"/> is absolute on <paramref name="os"/>, decided from the text alone (the local system's
    /// <see cref="Path.IsPathFullyQualified(string)"/> would call C:\ relative on Linux and /var rooted-but-relative on Windows).
    /// </summary>
    public static bool IsAbsolutePath(this TargetOs os, string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (os == TargetOs.Linux) return path.StartsWith('/');
        var driveRooted = path.Length >= 3 && char.IsAsciiLetter(path[0]) && path[1] == ':' && path[2] is '\\' or '/';
        var unc = path.Length > 2 && path[0] is '\\' or '/' && path[1] is '\\' or '/' && path[2] is not ('\\' or '/');
        return driveRooted || unc;
    }

    /// <summary>Whether <paramref name="path"/> is absolute only on the other system: written for it, where a relative path would do here.</summary>
    public static bool IsOtherSystemsPath(this TargetOs os, string path) =>
        !os.IsAbsolutePath(path) && (os == TargetOs.Windows ? TargetOs.Linux : TargetOs.Windows).IsAbsolutePath(path);

    /// <summary>
    /// The error for a path <paramref name="os"/> does not take as absolute, saying which system the file was judged for
    /// and what a right path looks like there (<paramref name="example"/> for that system).
    /// </summary>
    public static string NotAbsolute(this TargetOs os, string path, string example) => os == TargetOs.Windows
        ? $"'{path}' is not an absolute Windows path; write a drive-rooted one such as {example} (the file is validated for Windows; --os linux if it is for Linux)"
        : $"'{path}' is not an absolute Linux path; write one starting with / such as {example} (the file is validated for Linux; --os windows if it is for Windows)";
}
