namespace LispMobility.Fabric.Credentials;

/// <summary>
/// Where a device's username and password come from: two environment variables, or a secret file whose
/// first line is the username and second line the password (owner-only permissions on Linux).
/// </summary>
public sealed record CredentialSource
{
    /// <summary>Name of the environment variable holding the username.</summary>
    public string? UsernameVariable { get; init; }

    /// <summary>Name of the environment variable holding the password.</summary>
    public string? PasswordVariable { get; init; }

    /// <summary>Path of a secret file: username on line 1, password on line 2.</summary>
    public string? SecretFile { get; init; }

    /// <summary>Lists every configuration error, each naming its path under <paramref name="configPath"/>.</summary>
    public IReadOnlyList<string> Validate(string configPath)
    {
        var errors = new List<string>();
        var hasFile = !string.IsNullOrWhiteSpace(SecretFile);
        var hasUser = !string.IsNullOrWhiteSpace(UsernameVariable);
        var hasPassword = !string.IsNullOrWhiteSpace(PasswordVariable);
        if (hasFile && (hasUser || hasPassword))
            errors.Add($"{configPath}: set either SecretFile or UsernameVariable/PasswordVariable, not both.");
        else if (!hasFile && !(hasUser && hasPassword))
            errors.Add($"{configPath}: set SecretFile, or both UsernameVariable and PasswordVariable.");
        return errors;
    }
}

/// <summary>A username and password for one device; <see cref="ToString"/> never shows the password.</summary>
public sealed class DeviceCredentials
{
    /// <summary>Creates credentials.</summary>
    public DeviceCredentials(string username, string password)
    {
        Username = username;
        Password = password;
    }

    /// <summary>The login name.</summary>
    public string Username { get; }

    /// <summary>The password; keep it out of logs and messages.</summary>
    public string Password { get; }

    /// <summary>The HTTP Basic authorization parameter (base64 of <c>user:password</c>).</summary>
    public string ToBasicParameter() => Convert.ToBase64String(System.Text.Encoding.UTF8.GetBytes($"{Username}:{Password}"));

    /// <inheritdoc />
    public override string ToString() => $"{Username}:***";
}
