namespace LispMobility.Watchers.VCenter;

/// <summary>Configuration "Watchers:VCenter": one vCenter, its credentials (never inline) and its timings.</summary>
public sealed record VCenterOptions
{
    /// <summary>The configuration section these options bind to.</summary>
    public const string Section = "Watchers:VCenter";

    /// <summary>The vCenter's base address, e.g. https://vcenter.example.net/.</summary>
    public Uri? Url { get; init; }

    /// <summary>The user name (e.g. svc-lisp@vsphere.local).</summary>
    public string? UserName { get; init; }

    /// <summary>The environment variable holding the password.</summary>
    public string PasswordEnvironmentVariable { get; init; } = "LISPMOBILITY_VCENTER_PASSWORD";

    /// <summary>A file holding the password (first line); used when the environment variable is unset.</summary>
    public string? PasswordFile { get; init; }

    /// <summary>A pinned SHA-256 certificate thumbprint (hex, colons allowed) for a self-signed vCenter; chain validation otherwise.</summary>
    public string? CertificateThumbprint { get; init; }

    /// <summary>How long one REST call may take (per attempt).</summary>
    public TimeSpan RequestTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>The long-poll of the change feed (WaitForUpdatesEx maxWaitSeconds).</summary>
    public TimeSpan FeedWait { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>The period of the full reconciliation through REST.</summary>
    public TimeSpan ReconciliationInterval { get; init; } = TimeSpan.FromMinutes(5);

    /// <summary>The longest wait between reconnection attempts while vCenter is unreachable.</summary>
    public TimeSpan MaxReconnectDelay { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Every problem with this configuration, each naming its path; empty when valid.</summary>
    public IReadOnlyList<string> Validate()
    {
        var errors = new List<string>();
        if (Url is null || !Url.IsAbsoluteUri || Url.Scheme is not ("https" or "http"))
            errors.Add($"{Section}:{nameof(Url)}: an absolute https:// address of the vCenter is required");
        if (string.IsNullOrWhiteSpace(UserName)) errors.Add($"{Section}:{nameof(UserName)}: is required");
        if (string.IsNullOrWhiteSpace(PasswordEnvironmentVariable) && string.IsNullOrWhiteSpace(PasswordFile))
            errors.Add($"{Section}:{nameof(PasswordEnvironmentVariable)}: set it or {Section}:{nameof(PasswordFile)}");
        if (CertificateThumbprint is not null && PinnedCertificate.Normalize(CertificateThumbprint) is null)
            errors.Add($"{Section}:{nameof(CertificateThumbprint)}: must be a SHA-256 thumbprint, 64 hex digits");
        if (RequestTimeout <= TimeSpan.Zero) errors.Add($"{Section}:{nameof(RequestTimeout)}: must be positive");
        if (FeedWait < TimeSpan.FromSeconds(1)) errors.Add($"{Section}:{nameof(FeedWait)}: must be at least 1 s");
        if (ReconciliationInterval < TimeSpan.FromSeconds(1)) errors.Add($"{Section}:{nameof(ReconciliationInterval)}: must be at least 1 s");
        if (MaxReconnectDelay < TimeSpan.FromMilliseconds(100)) errors.Add($"{Section}:{nameof(MaxReconnectDelay)}: must be at least 100 ms");
        return errors;
    }
}

/// <summary>The user name and password for vCenter; <see cref="ToString"/> never shows the password.</summary>
public sealed record VCenterCredentials(string UserName, string Password)
{
    /// <summary>Reads the password from the environment variable, else the secret file; a precise error naming the source otherwise.</summary>
    public static VCenterCredentials Resolve(VCenterOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var user = options.UserName ?? throw new InvalidOperationException($"{VCenterOptions.Section}:{nameof(VCenterOptions.UserName)} is not set");
        if (!string.IsNullOrWhiteSpace(options.PasswordEnvironmentVariable)
            && Environment.GetEnvironmentVariable(options.PasswordEnvironmentVariable) is { Length: > 0 } fromEnvironment)
            return new VCenterCredentials(user, fromEnvironment);
        if (!string.IsNullOrWhiteSpace(options.PasswordFile))
        {
            try
            {
                var line = File.ReadLines(options.PasswordFile).FirstOrDefault()?.TrimEnd('\r', '\n');
                if (!string.IsNullOrEmpty(line)) return new VCenterCredentials(user, line);
                throw new InvalidOperationException($"{VCenterOptions.Section}:{nameof(VCenterOptions.PasswordFile)}: '{options.PasswordFile}' is empty");
            }
            catch (IOException e)
            {
                throw new InvalidOperationException($"{VCenterOptions.Section}:{nameof(VCenterOptions.PasswordFile)}: '{options.PasswordFile}' cannot be read: {e.Message}", e);
            }
        }
        throw new InvalidOperationException(
            $"no vCenter password: environment variable '{options.PasswordEnvironmentVariable}' is unset and {VCenterOptions.Section}:{nameof(VCenterOptions.PasswordFile)} is not set");
    }

    /// <inheritdoc />
    public override string ToString() => $"{UserName} (password hidden)";
}
