using LispMobility.Fabric.Credentials;
using Microsoft.Extensions.Options;

namespace LispMobility.Fabric;

/// <summary>Connection settings shared by the HTTPS switch drivers (NX-API, RESTCONF).</summary>
public abstract record HttpDeviceOptions
{
    /// <summary>Name shown in plans and logs; defaults to the base address host.</summary>
    public string? Device { get; init; }

    /// <summary>The device's HTTPS base address, e.g. <c>https://leaf1.dc1:443/</c>.</summary>
    public Uri? BaseAddress { get; init; }

    /// <summary>Where the username and password come from.</summary>
    public CredentialSource? Credentials { get; init; }

    /// <summary>
    /// SHA-256 of the device certificate (hex, colons allowed). When set, only that certificate is accepted
    /// instead of chain validation — for switches with self-signed certificates.
    /// </summary>
    public string? PinnedCertificateSha256 { get; init; }

    /// <summary>Deadline of one HTTP attempt.</summary>
    public TimeSpan RequestTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Retries after the first attempt on transient failures (timeouts, connection errors, 502/503/504).</summary>
    public int MaxRetryAttempts { get; init; } = 3;

    /// <summary>Base of the exponential, jittered delay between retries.</summary>
    public TimeSpan RetryBaseDelay { get; init; } = TimeSpan.FromMilliseconds(500);

    /// <summary>The name used in plans and logs.</summary>
    public string DeviceName => !string.IsNullOrWhiteSpace(Device) ? Device : BaseAddress?.Host ?? "unknown";

    /// <summary>The pin as 32 bytes, or null when not pinned (call <see cref="Validate"/> first).</summary>
    public byte[]? GetPinnedCertificateHash() =>
        string.IsNullOrWhiteSpace(PinnedCertificateSha256) ? null : Convert.FromHexString(NormalizePin(PinnedCertificateSha256));

    /// <summary>Lists every configuration error, each naming its path under <paramref name="configPath"/>.</summary>
    public virtual IReadOnlyList<string> Validate(string configPath)
    {
        var errors = new List<string>();
        if (BaseAddress is null)
            errors.Add($"{configPath}.BaseAddress is required.");
        else if (!BaseAddress.IsAbsoluteUri || BaseAddress.Scheme != Uri.UriSchemeHttps)
            errors.Add($"{configPath}.BaseAddress must be an absolute https:// address, not '{BaseAddress}'.");
        if (Credentials is null)
            errors.Add($"{configPath}.Credentials is required (SecretFile, or UsernameVariable and PasswordVariable).");
        else
            errors.AddRange(Credentials.Validate($"{configPath}.Credentials"));
        if (!string.IsNullOrWhiteSpace(PinnedCertificateSha256))
        {
            var pin = NormalizePin(PinnedCertificateSha256);
            if (pin.Length != 64 || !pin.All(Uri.IsHexDigit))
                errors.Add($"{configPath}.PinnedCertificateSha256 must be 64 hex digits (SHA-256 of the certificate), got {pin.Length} characters.");
        }
        if (RequestTimeout <= TimeSpan.Zero || RequestTimeout > TimeSpan.FromMinutes(5))
            errors.Add($"{configPath}.RequestTimeout must be between 0 and 5 minutes, not {RequestTimeout}.");
        if (MaxRetryAttempts is < 0 or > 10)
            errors.Add($"{configPath}.MaxRetryAttempts must be 0–10, not {MaxRetryAttempts}.");
        if (RetryBaseDelay < TimeSpan.Zero || RetryBaseDelay > TimeSpan.FromMinutes(1))
            errors.Add($"{configPath}.RetryBaseDelay must be between 0 and 1 minute, not {RetryBaseDelay}.");
        return errors;
    }

    /// <summary>Throws <see cref="OptionsValidationException"/> carrying every error at once.</summary>
    public void ThrowIfInvalid(string configPath) => OptionsErrors.ThrowIfAny(GetType(), configPath, Validate(configPath));

    private static string NormalizePin(string pin) => pin.Replace(":", "", StringComparison.Ordinal).Replace(" ", "", StringComparison.Ordinal).Trim();
}

/// <summary>Cisco NX-OS through NX-API (JSON-RPC over HTTPS).</summary>
public sealed record NxApiOptions : HttpDeviceOptions
{
    /// <summary>The NX-API endpoint path.</summary>
    public string Path { get; init; } = "/ins";

    /// <inheritdoc />
    public override IReadOnlyList<string> Validate(string configPath)
    {
        var errors = base.Validate(configPath).ToList();
        if (string.IsNullOrWhiteSpace(Path) || !Path.StartsWith('/'))
            errors.Add($"{configPath}.Path must start with '/', not '{Path}'.");
        return errors;
    }
}

/// <summary>Cisco IOS-XE through RESTCONF (RFC 8040).</summary>
public sealed record RestconfOptions : HttpDeviceOptions
{
    /// <summary>The RESTCONF datastore root (RFC 8040 §3.1 discovers it; IOS-XE uses this one).</summary>
    public string DataPath { get; init; } = "/restconf/data";

    /// <inheritdoc />
    public override IReadOnlyList<string> Validate(string configPath)
    {
        var errors = base.Validate(configPath).ToList();
        if (string.IsNullOrWhiteSpace(DataPath) || !DataPath.StartsWith('/'))
            errors.Add($"{configPath}.DataPath must start with '/', not '{DataPath}'.");
        return errors;
    }
}

/// <summary>A Linux host acting as the site gateway: sysctls and a macvlan, in the agent's network namespace.</summary>
public sealed record LinuxGatewayOptions
{
    /// <summary>Name shown in plans and logs; defaults to the host name.</summary>
    public string? Device { get; init; }

    /// <summary>Prefix of the macvlan's name; the VLAN number follows (<c>lmgw120</c>). At most 10 characters.</summary>
    public string MacvlanPrefix { get; init; } = "lmgw";

    /// <summary>Deadline for one netlink answer.</summary>
    public TimeSpan NetlinkTimeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>The name used in plans and logs.</summary>
    public string DeviceName => !string.IsNullOrWhiteSpace(Device) ? Device : Environment.MachineName;

    /// <summary>Lists every configuration error, each naming its path under <paramref name="configPath"/>.</summary>
    public IReadOnlyList<string> Validate(string configPath)
    {
        var errors = new List<string>();
        // IFNAMSIZ is 16 with the NUL; 10 leaves room for a 4-digit VLAN plus one spare.
        if (string.IsNullOrWhiteSpace(MacvlanPrefix) || MacvlanPrefix.Length > 10 || !MacvlanPrefix.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_'))
            errors.Add($"{configPath}.MacvlanPrefix must be 1–10 letters, digits, '-' or '_', not '{MacvlanPrefix}'.");
        if (NetlinkTimeout <= TimeSpan.Zero || NetlinkTimeout > TimeSpan.FromMinutes(1))
            errors.Add($"{configPath}.NetlinkTimeout must be between 0 and 1 minute, not {NetlinkTimeout}.");
        return errors;
    }

    /// <summary>Throws <see cref="OptionsValidationException"/> carrying every error at once.</summary>
    public void ThrowIfInvalid(string configPath) => OptionsErrors.ThrowIfAny(GetType(), configPath, Validate(configPath));
}

internal static class OptionsErrors
{
    public static void ThrowIfAny(Type type, string configPath, IReadOnlyList<string> errors)
    {
        if (errors.Count > 0) throw new OptionsValidationException(configPath, type, errors);
    }
}
