using System.Runtime.Versioning;
using System.Security;
using Microsoft.Management.Infrastructure;
using Microsoft.Management.Infrastructure.Options;
using Mmi = Microsoft.Management.Infrastructure;

namespace LispMobility.Watchers.HyperV;

/// <summary>
/// <see cref="IHyperVCim"/> over Microsoft.Management.Infrastructure 3.0.0: a <see cref="CimSession"/> to the local
/// host, or to a remote Hyper-V host over WS-Man with credentials; <c>QueryInstances</c> for the reads and
/// <c>SubscribeAsync</c> for <see cref="HyperVIndications.Queries"/>, in <c>root\virtualization\v2</c>.
/// This compiles everywhere but runs on Windows only: MMI calls into <c>libmi</c>, which no other platform ships
/// (on Linux: <c>DllNotFoundException: libmi</c>), so it cannot run on the Linux build machines; the watcher's tests
/// stay at the <see cref="IHyperVCim"/> seam with fixtures shaped like MMI's instances, and
/// <see cref="HyperVOptions.Validate()"/> refuses the watcher off Windows.
/// </summary>
[SupportedOSPlatform("windows")]
public sealed class MmiHyperVCim : IHyperVCim, IDisposable
{
    private const string Wql = "WQL";
    private readonly CimSession _session;

    /// <summary>Opens the session to <paramref name="host"/> (the local host for "." or "localhost").</summary>
    public MmiHyperVCim(HyperVHostOptions host)
    {
        ArgumentNullException.ThrowIfNull(host);
        if (host.IsLocal)
        {
            _session = CimSession.Create(null);
            return;
        }
        var options = new WSManSessionOptions { UseSsl = host.UseSsl };
        if (host.ResolvePassword() is { } password)
        {
            var (domain, user) = host.UserName!.Split('\\', 2) is [var d, var u] ? (d, u) : ("", host.UserName!);
            using var secure = new SecureString();
            foreach (var c in password) secure.AppendChar(c);
            secure.MakeReadOnly();
            options.AddDestinationCredentials(new CimCredential(
                Enum.Parse<PasswordAuthenticationMechanism>(host.Authentication, ignoreCase: true), domain, user, secure));
        }
        _session = CimSession.Create(host.ComputerName, options);
    }

    /// <inheritdoc />
    public IReadOnlyList<CimInstance> VirtualMachines() =>
        Query("SELECT * FROM Msvm_ComputerSystem WHERE Caption = 'Virtual Machine'");

    /// <inheritdoc />
    public CimInstance? VirtualMachine(string vmId) =>
        Query($"SELECT * FROM Msvm_ComputerSystem WHERE Name = '{VmGuid(vmId)}'").FirstOrDefault();

    /// <inheritdoc />
    public CimInstance? ReplicationRelationship(string vmId) =>
        // WQL string literals escape a backslash by doubling it: InstanceID is Microsoft:<vmid>\HVR\0.
        Query($"SELECT * FROM Msvm_ReplicationRelationship WHERE InstanceID = 'Microsoft:{VmGuid(vmId)}\\\\HVR\\\\0'").FirstOrDefault();

    /// <inheritdoc />
    public CimInstance? ReplicationSettings(string vmId) =>
        // Unconfirmed: that Msvm_ReplicationSettingData carries VirtualSystemIdentifier (it does on 2012 R2+ in the MOF we read).
        Query($"SELECT * FROM Msvm_ReplicationSettingData WHERE VirtualSystemIdentifier = '{VmGuid(vmId)}'").FirstOrDefault();

    /// <inheritdoc />
    public IReadOnlyList<CimInstance> NetworkAdapters(string vmId) =>
        Query($"SELECT * FROM Msvm_SyntheticEthernetPortSettingData WHERE InstanceID LIKE 'Microsoft:{VmGuid(vmId)}%'");

    /// <inheritdoc />
    public IReadOnlyList<CimInstance> GuestNetworkConfigurations(string vmId) =>
        Query($"SELECT * FROM Msvm_GuestNetworkAdapterConfiguration WHERE InstanceID LIKE 'Microsoft:GuestNetwork\\\\{VmGuid(vmId)}%'");

    /// <inheritdoc />
    public CimInstance? KvpExchange(string vmId) =>
        Query($"SELECT * FROM Msvm_KvpExchangeComponent WHERE SystemName = '{VmGuid(vmId)}'").FirstOrDefault();

    /// <inheritdoc />
    public IDisposable Watch(Action<CimInstance> onIndication, Action<Exception> onError)
    {
        ArgumentNullException.ThrowIfNull(onIndication);
        ArgumentNullException.ThrowIfNull(onError);
        var subscriptions = new List<IDisposable>();
        try
        {
            foreach (var query in HyperVIndications.Queries)
                subscriptions.Add(_session.SubscribeAsync(HyperVCimValues.Namespace, Wql, query).Subscribe(new Observer(onIndication, onError)));
        }
        catch
        {
            foreach (var s in subscriptions) s.Dispose();
            throw;
        }
        return new Subscriptions(subscriptions);
    }

    /// <inheritdoc />
    public void Dispose() => _session.Dispose();

    private List<CimInstance> Query(string wql)
    {
        var list = new List<CimInstance>();
        foreach (var item in _session.QueryInstances(HyperVCimValues.Namespace, Wql, wql))
        {
            using (item) list.Add(Convert(item));
        }
        return list;
    }

    /// <summary>An MMI instance as the watcher's property bag; embedded instances (TargetInstance, PreviousInstance) nested.</summary>
    internal static CimInstance Convert(Mmi.CimInstance instance)
    {
        var properties = new Dictionary<string, object?>(StringComparer.OrdinalIgnoreCase);
        foreach (var property in instance.CimInstanceProperties)
        {
            properties[property.Name] = property.Value switch
            {
                Mmi.CimInstance embedded => Convert(embedded),
                Mmi.CimInstance[] embedded => embedded.Select(Convert).ToArray(),
                var value => value,
            };
        }
        return new CimInstance(instance.CimSystemProperties.ClassName, properties);
    }

    // Ids go into WQL literals: only a GUID may, so nothing can be injected.
    private static string VmGuid(string vmId) =>
        Guid.TryParse(vmId, out var id) ? id.ToString("D").ToUpperInvariant() : throw new ArgumentException($"'{vmId}' is not a Hyper-V VM id (a GUID)", nameof(vmId));

    private sealed class Observer(Action<CimInstance> onIndication, Action<Exception> onError) : IObserver<CimSubscriptionResult>
    {
        public void OnNext(CimSubscriptionResult value)
        {
            using var indication = value.Instance;
            onIndication(Convert(indication));
        }

        public void OnError(Exception error) => onError(error);

        public void OnCompleted() => onError(new InvalidOperationException("the CIM subscription ended"));
    }

    private sealed class Subscriptions(List<IDisposable> subscriptions) : IDisposable
    {
        public void Dispose()
        {
            foreach (var s in subscriptions) s.Dispose();
        }
    }
}
