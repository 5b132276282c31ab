using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using LispMobility.Fabric.Http;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace LispMobility.Fabric.IosXe;

/// <summary>
/// Cisco IOS-XE through RESTCONF: GET the Vlan interface (404 = absent), PATCH a merge of the SVI's proxy-ARP
/// and HSRP standby group with <c>application/yang-data+json</c>, then GET again to verify. HSRP on IPv4 only.
/// </summary>
public sealed partial class RestconfDriver : IGatewayDriver, IDisposable
{
    private readonly RestconfOptions _options;
    private readonly DeviceChannel _channel;
    private readonly ILogger _logger;

    /// <summary>Creates the driver; validates <paramref name="options"/> (errors name <paramref name="configPath"/>).</summary>
    /// <param name="handler">An HTTP handler to use instead of <see cref="DeviceTls.CreateHandler"/> (the caller keeps ownership).</param>
    public RestconfDriver(RestconfOptions options, string configPath = "Fabric:Restconf", ILogger<RestconfDriver>? logger = null,
        TimeProvider? time = null, HttpMessageHandler? handler = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        _options = options;
        _logger = (ILogger?)logger ?? NullLogger.Instance;
        _channel = new DeviceChannel(options, configPath, handler, _logger, time ?? TimeProvider.System);
    }

    /// <inheritdoc />
    public string Name => "restconf";

    private string InterfacesPath => $"{_options.DataPath.TrimEnd('/')}/Cisco-IOS-XE-native:native/interface";

    /// <inheritdoc />
    public async Task<GatewayPlan> PlanAsync(GatewayIntent desired, CancellationToken ct)
    {
        var differences = await DifferencesAsync(desired, "plan", ct).ConfigureAwait(false);
        if (differences.Count == 0) return new GatewayPlan(Name, _channel.Device, []);
        LogPlanned(_logger, _channel.Device, desired.Vlan, differences.Count);
        return new GatewayPlan(Name, _channel.Device,
            [new GatewayChange($"PATCH {InterfacesPath}", string.Join("; ", differences), IosXeVlanInterface.MergeBody(desired))]);
    }

    /// <inheritdoc />
    public async Task ApplyAsync(GatewayPlan plan, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(plan);
        if (plan.Driver != Name || plan.Device != _channel.Device)
            throw new ArgumentException($"Plan for {plan.Driver}/{plan.Device} cannot be applied by {Name}/{_channel.Device}.", nameof(plan));
        foreach (var change in plan.Changes)
        {
            if (change.Target != $"PATCH {InterfacesPath}")
                throw new ArgumentException($"Change target '{change.Target}' is not this driver's resource 'PATCH {InterfacesPath}'.", nameof(plan));
            var request = new DeviceRequest(HttpMethod.Patch, InterfacesPath, change.Payload, IosXeVlanInterface.MediaType,
                IosXeVlanInterface.MediaType, $"apply {change.Description}");
            await _channel.SendAsync(request, r => IosXeVlanInterface.ErrorText(r.Body), ct).ConfigureAwait(false);
            LogApplied(_logger, _channel.Device, change.Description);
        }
    }

    /// <inheritdoc />
    public async Task<GatewayVerification> VerifyAsync(GatewayIntent desired, CancellationToken ct) =>
        GatewayVerification.From(await DifferencesAsync(desired, "verify", ct).ConfigureAwait(false));

    private async Task<IReadOnlyList<string>> DifferencesAsync(GatewayIntent desired, string operation, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(desired);
        desired.ThrowIfInvalid();
        if (desired.Fhrp != FhrpKind.Hsrp || desired.VirtualIp.AddressFamily != AddressFamily.InterNetwork)
            throw new ArgumentException($"The RESTCONF driver configures HSRP for IPv4 only; VLAN {desired.Vlan} asks for {desired.Fhrp} {desired.VirtualIp}.", nameof(desired));
        var request = new DeviceRequest(HttpMethod.Get, $"{InterfacesPath}/Vlan={desired.Vlan}", null, null,
            IosXeVlanInterface.MediaType, $"{operation} Vlan{desired.Vlan}")
        {
            IsAnswer = r => r.Status == HttpStatusCode.NotFound,
        };
        var reply = await _channel.SendAsync(request, r => IosXeVlanInterface.ErrorText(r.Body), ct).ConfigureAwait(false);
        if (reply.Status == HttpStatusCode.NotFound) return IosXeVlanInterface.Absent.Differences(desired);
        try
        {
            return IosXeVlanInterface.Parse(reply.Body, desired.Vlan).Differences(desired);
        }
        catch (Exception e) when (e is JsonException or FormatException or InvalidOperationException)
        {
            throw new GatewayException(_channel.Device, request.Operation, $"unreadable RESTCONF reply: {e.Message}", false, e);
        }
    }

    /// <inheritdoc />
    public void Dispose() => _channel.Dispose();

    [LoggerMessage(EventId = 6201, Level = LogLevel.Information, Message = "{Device}: planned a RESTCONF merge for Vlan{Vlan} ({DifferenceCount} differences)")]
    private static partial void LogPlanned(ILogger logger, string device, int vlan, int differenceCount);

    [LoggerMessage(EventId = 6202, Level = LogLevel.Information, Message = "{Device}: applied {Change}")]
    private static partial void LogApplied(ILogger logger, string device, string change);
}
