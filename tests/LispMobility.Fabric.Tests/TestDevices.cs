using System.Net;
using LispMobility.Fabric;
using LispMobility.Fabric.Credentials;
using LispMobility.Fabric.Http;
using LispMobility.TestSupport.Fakes;

namespace LispMobility.Fabric.Tests;

/// <summary>Secret files and driver options pointing at the fake devices.</summary>
internal sealed class TestDevices : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("lm-fabric-").FullName;

    public string SecretFile(string username, string password, UnixFileMode mode = UnixFileMode.UserRead | UnixFileMode.UserWrite)
    {
        var path = Path.Combine(_directory, $"secret-{Guid.NewGuid():N}");
        File.WriteAllText(path, $"{username}\n{password}\n");
        if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(path, mode);
        return path;
    }

    public NxApiOptions NxApi(FakeDeviceServer device, string? password = null, bool pin = true) => new()
    {
        Device = "leaf1",
        BaseAddress = device.BaseAddress,
        Credentials = new CredentialSource { SecretFile = SecretFile(device.Username, password ?? device.Password) },
        PinnedCertificateSha256 = pin ? DeviceTls.Sha256Of(device.Certificate) : null,
        RequestTimeout = TimeSpan.FromSeconds(5),
        MaxRetryAttempts = 3,
        RetryBaseDelay = TimeSpan.FromMilliseconds(20),
    };

    public RestconfOptions Restconf(FakeDeviceServer device, string? password = null, bool pin = true) => new()
    {
        Device = "edge1",
        BaseAddress = device.BaseAddress,
        Credentials = new CredentialSource { SecretFile = SecretFile(device.Username, password ?? device.Password) },
        PinnedCertificateSha256 = pin ? DeviceTls.Sha256Of(device.Certificate) : null,
        RequestTimeout = TimeSpan.FromSeconds(5),
        MaxRetryAttempts = 3,
        RetryBaseDelay = TimeSpan.FromMilliseconds(20),
    };

    /// <summary>VLAN 120, HSRPv2 group 120 (vMAC 0000.0c9f.f078), VIP 10.20.0.1/24, proxy-ARP on, priority 110.</summary>
    public static GatewayIntent Intent(string interfaceName = "Vlan120", int? priority = 110) => new(
        120, interfaceName, IPAddress.Parse("10.20.0.1"), 24, FhrpKind.Hsrp, 2, 120,
        VirtualMac.For(FhrpKind.Hsrp, 2, 120), ProxyArp: true, Priority: priority);

    public void Dispose() => Directory.Delete(_directory, recursive: true);
}
