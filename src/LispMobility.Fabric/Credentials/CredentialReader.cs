using System.Runtime.InteropServices;

namespace LispMobility.Fabric.Credentials;

/// <summary>A credential source could not be read; the message names the config path and the cause, never the secret.</summary>
public sealed class CredentialException : Exception
{
    /// <summary>Creates the exception.</summary>
    public CredentialException(string message) : base(message) { }

    /// <summary>Creates the exception with its cause.</summary>
    public CredentialException(string message, Exception innerException) : base(message, innerException) { }

    /// <summary>Parameterless form for serializers.</summary>
    public CredentialException() : base("Credentials could not be read.") { }
}

/// <summary>Reads device credentials from environment variables or an owner-only secret file.</summary>
public static class CredentialReader
{
    private const UnixFileMode NotOwner =
        UnixFileMode.GroupRead | UnixFileMode.GroupWrite | UnixFileMode.GroupExecute |
        UnixFileMode.OtherRead | UnixFileMode.OtherWrite | UnixFileMode.OtherExecute;

    /// <summary>
    /// Reads the credentials <paramref name="source"/> points at. <paramref name="environment"/> replaces
    /// <see cref="Environment.GetEnvironmentVariable(string)"/> (tests). Throws <see cref="CredentialException"/>.
    /// </summary>
    public static DeviceCredentials Read(CredentialSource source, string configPath, Func<string, string?>? environment = null)
    {
        ArgumentNullException.ThrowIfNull(source);
        var errors = source.Validate(configPath);
        if (errors.Count > 0) throw new CredentialException(errors[0]);
        return string.IsNullOrWhiteSpace(source.SecretFile)
            ? FromEnvironment(source, configPath, environment ?? Environment.GetEnvironmentVariable)
            : FromFile(source.SecretFile, configPath);
    }

    private static DeviceCredentials FromEnvironment(CredentialSource source, string configPath, Func<string, string?> environment)
    {
        var user = environment(source.UsernameVariable!);
        var password = environment(source.PasswordVariable!);
        if (string.IsNullOrEmpty(user))
            throw new CredentialException($"{configPath}.UsernameVariable: environment variable {source.UsernameVariable} is not set or empty.");
        if (string.IsNullOrEmpty(password))
            throw new CredentialException($"{configPath}.PasswordVariable: environment variable {source.PasswordVariable} is not set or empty.");
        return new DeviceCredentials(user, password);
    }

    private static DeviceCredentials FromFile(string path, string configPath)
    {
        try
        {
            if (!File.Exists(path)) throw new CredentialException($"{configPath}.SecretFile: {path} does not exist.");
            // A secret others can read is already leaked; refusing makes the operator fix it rather than ignore it.
            if (!RuntimeInformation.IsOSPlatform(OSPlatform.Windows) && (File.GetUnixFileMode(path) & NotOwner) != 0)
                throw new CredentialException(
                    $"{configPath}.SecretFile: {path} is accessible to group or others (mode {Convert.ToString((int)File.GetUnixFileMode(path), 8)}); chmod 600 it.");
            var lines = File.ReadAllLines(path);
            if (lines.Length < 2 || string.IsNullOrEmpty(lines[0].Trim()) || string.IsNullOrEmpty(lines[1]))
                throw new CredentialException($"{configPath}.SecretFile: {path} must hold the username on line 1 and the password on line 2.");
            return new DeviceCredentials(lines[0].Trim(), lines[1].TrimEnd('\r'));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new CredentialException($"{configPath}.SecretFile: {path} cannot be read: {e.Message}", e);
        }
    }
}
