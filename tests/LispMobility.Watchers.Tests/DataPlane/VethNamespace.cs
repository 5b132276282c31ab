using System.Diagnostics;
using System.Net.NetworkInformation;
using System.Runtime.Versioning;
using LispMobility.Watchers.DataPlane;

namespace LispMobility.Watchers.Tests.DataPlane;

/// <summary>
/// A network namespace holding the "VM" end of a veth pair whose other end stays in the test's namespace, where the
/// sniffer captures. Deleting the namespace deletes the pair.
/// </summary>
[SupportedOSPlatform("linux")]
internal sealed class VethNamespace : IDisposable
{
    public VethNamespace()
    {
        var id = Convert.ToHexString(Guid.NewGuid().ToByteArray().AsSpan(0, 4)).ToLowerInvariant();
        Name = "lmw-" + id;
        HostEnd = "lmh" + id;
        VmEnd = "lmv" + id;
        try
        {
            Ip($"netns add {Name}");
            Ip($"link add {HostEnd} type veth peer name {VmEnd}");
            Ip($"link set {VmEnd} netns {Name}");
            // No link-local addresses: their DAD and router solicitations would be noise in what the sniffer reports.
            Ip($"link set {HostEnd} addrgenmode none");
            Ip($"-n {Name} link set {VmEnd} addrgenmode none");
            Ip($"-n {Name} link set {VmEnd} address {VmMacText}");
            Ip($"-n {Name} link set {VmEnd} up");
            Ip($"link set {HostEnd} up");
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    public const string VmMacText = "02:00:5e:10:00:01";

    public string Name { get; }
    public string HostEnd { get; }
    public string VmEnd { get; }
    public PhysicalAddress VmMac { get; } = PhysicalAddress.Parse(VmMacText.Replace(':', '-'));

    /// <summary>The VM's MAC as bytes.</summary>
    public static byte[] VmMacBytes => PhysicalAddress.Parse(VmMacText.Replace(':', '-')).GetAddressBytes();

    /// <summary>Runs an <c>ip</c> command inside the namespace.</summary>
    public void IpInside(string arguments) => Ip($"-n {Name} {arguments}");

    /// <summary>An AF_PACKET socket on the VM end, opened inside the namespace: the VM's network card.</summary>
    public PacketSocket OpenVmCard() =>
        PacketSocket.InNamespace(Name, () => PacketSocket.Open(VmEnd, promiscuous: false, TimeSpan.FromMilliseconds(100), 1 << 20));

    public void Dispose()
    {
        Run("ip", $"netns del {Name}", check: false);
        Run("ip", $"link del {HostEnd}", check: false);
    }

    private static void Ip(string arguments) => Run("ip", arguments, check: true);

    private static void Run(string file, string arguments, bool check)
    {
        using var process = Process.Start(new ProcessStartInfo(file, arguments) { RedirectStandardError = true, RedirectStandardOutput = true })
            ?? throw new InvalidOperationException($"could not start {file}");
        var error = process.StandardError.ReadToEnd();
        process.WaitForExit();
        if (check && process.ExitCode != 0)
            throw new InvalidOperationException($"'{file} {arguments}' failed ({process.ExitCode}): {error.Trim()} — these tests need root and iproute2");
    }
}
