using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace LispMobility.Fabric.Http;

/// <summary>Builds the HTTPS handler for a switch: platform chain validation by default, or one pinned certificate.</summary>
public static class DeviceTls
{
    /// <summary>
    /// A handler for <paramref name="options"/>: chain and name validated as usual unless a SHA-256 pin is set,
    /// in which case exactly that certificate is accepted and nothing else. No proxy: switches sit on a management network.
    /// </summary>
    public static SocketsHttpHandler CreateHandler(HttpDeviceOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var handler = new SocketsHttpHandler
        {
            UseProxy = false,
            UseCookies = false,
            AllowAutoRedirect = false,
            PooledConnectionLifetime = TimeSpan.FromMinutes(5),
            ConnectTimeout = options.RequestTimeout,
        };
        var pin = options.GetPinnedCertificateHash();
        if (pin is not null)
            handler.SslOptions = new SslClientAuthenticationOptions
            {
                RemoteCertificateValidationCallback = (_, certificate, _, _) => Matches(certificate, pin),
            };
        return handler;
    }

    /// <summary>The SHA-256 of a certificate's DER encoding, as uppercase hex — the value to pin.</summary>
    public static string Sha256Of(X509Certificate certificate)
    {
        ArgumentNullException.ThrowIfNull(certificate);
        return Convert.ToHexString(SHA256.HashData(certificate.GetRawCertData()));
    }

    private static bool Matches(X509Certificate? certificate, byte[] pin) =>
        certificate is not null && CryptographicOperations.FixedTimeEquals(SHA256.HashData(certificate.GetRawCertData()), pin);
}
