using System.Globalization;
using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace LispMobility.Watchers.VCenter;

/// <summary>
/// TLS for vCenter: the platform's chain validation by default; with a pinned SHA-256 thumbprint, the leaf
/// certificate must match it exactly (a self-signed vCenter), and nothing else is accepted.
/// </summary>
public static class PinnedCertificate
{
    /// <summary>A handler for both the REST and the SOAP client; cookies are handled by hand (two session kinds).</summary>
    public static SocketsHttpHandler CreateHandler(string? thumbprint, Action<string>? onRejected = null)
    {
        var pinned = thumbprint is null ? null : Normalize(thumbprint) ?? throw new ArgumentException("not a SHA-256 thumbprint", nameof(thumbprint));
        return new SocketsHttpHandler
        {
            UseCookies = false,
            PooledConnectionLifetime = TimeSpan.FromMinutes(5),
            ConnectTimeout = TimeSpan.FromSeconds(5),
            SslOptions = new SslClientAuthenticationOptions
            {
                RemoteCertificateValidationCallback = (_, certificate, _, errors) =>
                {
                    if (pinned is null)
                    {
                        if (errors == SslPolicyErrors.None) return true;
                        onRejected?.Invoke($"certificate not trusted ({errors}); pin its SHA-256 thumbprint {Thumbprint(certificate)} if it is self-signed");
                        return false;
                    }
                    var actual = Thumbprint(certificate);
                    if (string.Equals(actual, pinned, StringComparison.Ordinal)) return true;
                    onRejected?.Invoke($"certificate thumbprint {actual} is not the pinned {pinned}");
                    return false;
                },
            },
        };
    }

    /// <summary>The SHA-256 thumbprint of a certificate as upper-case hex, or "none".</summary>
    public static string Thumbprint(X509Certificate? certificate) =>
        certificate is null ? "none" : Convert.ToHexString(SHA256.HashData(certificate.GetRawCertData()));

    /// <summary>A thumbprint as 64 upper-case hex digits (colons and spaces dropped), or null when it is not one.</summary>
    public static string? Normalize(string thumbprint)
    {
        ArgumentNullException.ThrowIfNull(thumbprint);
        var hex = new string(thumbprint.Where(c => c is not (':' or ' ' or '-')).ToArray()).ToUpperInvariant();
        return hex.Length == 64 && hex.All(c => char.IsAsciiHexDigit(c)) ? hex : null;
    }
}
