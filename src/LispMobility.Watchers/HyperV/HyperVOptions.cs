namespace LispMobility.Watchers.HyperV;

/// <summary>
/// Configuration "Watchers:HyperV": the Hyper-V hosts this agent watches over CIM (Microsoft.Management.Infrastructure):
/// the local host when <see cref="Hosts"/> is empty, else each listed host over WS-Man with its credentials.
/// </summary>
public sealed record HyperVOptions
{
    /// <summary>The configuration section these options bind to.</summary>
    public const string Section = "Watchers:HyperV";

    /// <summary>The local host's name as the site map knows it (when <see cref="Hosts"/> is empty); the machine name when empty.</summary>
    public string? HostName { get; init; }

    /// <summary>Remote (or local) Hyper-V hosts of the site, each watched through its own CIM session.</summary>
    public IReadOnlyList<HyperVHostOptions> Hosts { get; init; } = [];

    /// <summary>How often running VMs without guest addresses (no integration services yet) are read again.</summary>
    public TimeSpan AddressRetryInterval { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>The longest wait between reconnection attempts to a host that does not answer.</summary>
    public TimeSpan MaxReconnectDelay { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>Every problem with this configuration, each naming its path; empty when valid. Off Windows, the watcher itself is one.</summary>
    public IReadOnlyList<string> Validate() => Validate(OperatingSystem.IsWindows());

    /// <summary>As <see cref="Validate()"/>, for the given platform (tests check both).</summary>
    public IReadOnlyList<string> Validate(bool onWindows)
    {
        var errors = new List<string>();
        if (!onWindows)
            errors.Add($"{Section}: the Hyper-V watcher runs on Windows only: Microsoft.Management.Infrastructure needs libmi, which exists only there "
                + "(it reaches remote Hyper-V hosts over WS-Man, but from a Windows agent); remove the section or run this agent on Windows");
        if (AddressRetryInterval <= TimeSpan.Zero) errors.Add($"{Section}:{nameof(AddressRetryInterval)}: must be positive");
        if (MaxReconnectDelay < TimeSpan.FromMilliseconds(100)) errors.Add($"{Section}:{nameof(MaxReconnectDelay)}: must be at least 100 ms");
        for (var i = 0; i < Hosts.Count; i++) errors.AddRange(Hosts[i].Validate($"{Section}:{nameof(Hosts)}:{i}"));
        var duplicate = Hosts.GroupBy(h => h.ComputerName, StringComparer.OrdinalIgnoreCase).FirstOrDefault(g => g.Key is not null && g.Count() > 1);
        if (duplicate is not null) errors.Add($"{Section}:{nameof(Hosts)}: '{duplicate.Key}' is listed more than once");
        return errors;
    }
}

/// <summary>One Hyper-V host: its computer name (WS-Man), the name the site map knows, and where its password is.</summary>
public sealed record HyperVHostOptions
{
    /// <summary>The host's computer name or address for the CIM session (WS-Man); "." or "localhost" for this machine.</summary>
    public string? ComputerName { get; init; }

    /// <summary>The host's name as the site map knows it; <see cref="ComputerName"/> when empty.</summary>
    public string? HostName { get; init; }

    /// <summary>The account (user, or DOMAIN\user); empty for the agent's own identity (Kerberos as the service account).</summary>
    public string? UserName { get; init; }

    /// <summary>The environment variable holding the password.</summary>
    public string? PasswordEnvironmentVariable { get; init; }

    /// <summary>A file holding the password (first line); used when the environment variable is unset.</summary>
    public string? PasswordFile { get; init; }

    /// <summary>The WS-Man authentication: Default, Negotiate, Kerberos, NtlmDomain, CredSsp, Basic, Digest.</summary>
    public string Authentication { get; init; } = "Default";

    /// <summary>WS-Man over HTTPS (port 5986) instead of HTTP (5985, message-encrypted by Negotiate/Kerberos).</summary>
    public bool UseSsl { get; init; }

    internal static readonly string[] Mechanisms = ["Default", "Negotiate", "Kerberos", "NtlmDomain", "CredSsp", "Basic", "Digest"];

    /// <summary>The name facts carry for this host.</summary>
    public string Name => string.IsNullOrWhiteSpace(HostName) ? ComputerName ?? "" : HostName;

    /// <summary>True for this machine (no WS-Man, the local CIM session).</summary>
    public bool IsLocal => ComputerName is "." or null || string.Equals(ComputerName, "localhost", StringComparison.OrdinalIgnoreCase);

    /// <summary>Problems of this entry, each under <paramref name="path"/>.</summary>
    public IReadOnlyList<string> Validate(string path)
    {
        var errors = new List<string>();
        if (string.IsNullOrWhiteSpace(ComputerName)) errors.Add($"{path}:{nameof(ComputerName)}: is required");
        if (!Mechanisms.Contains(Authentication, StringComparer.OrdinalIgnoreCase))
            errors.Add($"{path}:{nameof(Authentication)}: '{Authentication}' is not one of {string.Join(", ", Mechanisms)}");
        if (!string.IsNullOrWhiteSpace(UserName) && string.IsNullOrWhiteSpace(PasswordEnvironmentVariable) && string.IsNullOrWhiteSpace(PasswordFile))
            errors.Add($"{path}:{nameof(PasswordEnvironmentVariable)}: set it or {path}:{nameof(PasswordFile)} for user {UserName}");
        return errors;
    }

    /// <summary>
    /// The password, from the environment variable, else the secret file; null without <see cref="UserName"/>
    /// (the agent's own identity). A precise error naming the source otherwise; never the password itself.
    /// </summary>
    public string? ResolvePassword()
    {
        if (string.IsNullOrWhiteSpace(UserName)) return null;
        if (!string.IsNullOrWhiteSpace(PasswordEnvironmentVariable) && Environment.GetEnvironmentVariable(PasswordEnvironmentVariable) is { Length: > 0 } fromEnvironment)
            return fromEnvironment;
        if (!string.IsNullOrWhiteSpace(PasswordFile))
        {
            try
            {
                var line = File.ReadLines(PasswordFile).FirstOrDefault()?.TrimEnd('\r', '\n');
                if (!string.IsNullOrEmpty(line)) return line;
                throw new InvalidOperationException($"Hyper-V host {ComputerName}: password file '{PasswordFile}' is empty");
            }
            catch (IOException e)
            {
                throw new InvalidOperationException($"Hyper-V host {ComputerName}: password file '{PasswordFile}' cannot be read: {e.Message}", e);
            }
        }
        throw new InvalidOperationException(
            $"Hyper-V host {ComputerName}: no password for {UserName}: environment variable '{PasswordEnvironmentVariable}' is unset and no password file is set");
    }

    /// <inheritdoc />
    public override string ToString() => $"{ComputerName} as {(string.IsNullOrWhiteSpace(UserName) ? "the agent's identity" : UserName)} (password hidden)";
}
