using System.Net.Sockets;
using LispMobility.Fabric.Http;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace LispMobility.Fabric.NxOs;

/// <summary>
/// Cisco NX-OS through NX-API: reads <c>show running-config</c>, plans the missing lines (<c>feature hsrp</c>,
/// <c>interface vlan N</c>, <c>hsrp version 2</c>, <c>hsrp G</c>, <c>ip VIP</c>, <c>mac-address …</c>, <c>ip proxy-arp</c>)
/// as one JSON-RPC request, and sends exactly that request on apply. HSRP on IPv4 only.
/// </summary>
public sealed partial class NxApiDriver : IGatewayDriver, IDisposable
{
    private readonly NxApiOptions _options;
    private readonly DeviceChannel _channel;
    private readonly ILogger _logger;

    /// <summary>Creates the driver; validates <paramref name="options"/> (errors name <paramref name="configPath"/>).</summary>
    /// <param name="handler">An HTTP handler to use instead of <see cref="DeviceTls.CreateHandler"/> (the caller keeps ownership).</param>
    public NxApiDriver(NxApiOptions options, string configPath = "Fabric:NxApi", ILogger<NxApiDriver>? logger = null,
        TimeProvider? time = null, HttpMessageHandler? handler = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        _options = options;
        _logger = (ILogger?)logger ?? NullLogger.Instance;
        _channel = new DeviceChannel(options, configPath, handler, _logger, time ?? TimeProvider.System);
    }

    /// <inheritdoc />
    public string Name => "nxapi";

    private string Target => $"POST {_options.Path}";

    /// <inheritdoc />
    public async Task<GatewayPlan> PlanAsync(GatewayIntent desired, CancellationToken ct)
    {
        var delta = await DeltaAsync(desired, "plan", ct).ConfigureAwait(false);
        if (delta.Commands.Count == 0) return new GatewayPlan(Name, _channel.Device, []);
        var payload = NxApiJsonRpc.Request("cli", delta.Commands);
        LogPlanned(_logger, _channel.Device, desired.Vlan, delta.Commands.Count);
        return new GatewayPlan(Name, _channel.Device,
            [new GatewayChange(Target, $"interface vlan {desired.Vlan}: {string.Join("; ", delta.Differences)}", payload)]);
    }

    /// <inheritdoc />
    public async Task ApplyAsync(GatewayPlan plan, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(plan);
        if (plan.Driver != Name || plan.Device != _channel.Device)
            throw new ArgumentException($"Plan for {plan.Driver}/{plan.Device} cannot be applied by {Name}/{_channel.Device}.", nameof(plan));
        foreach (var change in plan.Changes)
        {
            if (change.Target != Target)
                throw new ArgumentException($"Change target '{change.Target}' is not this driver's endpoint '{Target}'.", nameof(plan));
            var request = new DeviceRequest(HttpMethod.Post, _options.Path, change.Payload, NxApiJsonRpc.ContentType, "application/json", $"apply {change.Description}");
            await _channel.SendAsync(request, r => NxApiJsonRpc.FirstError(new(r.Status, r.Body)), ct).ConfigureAwait(false);
            LogApplied(_logger, _channel.Device, change.Description);
        }
    }

    /// <inheritdoc />
    public async Task<GatewayVerification> VerifyAsync(GatewayIntent desired, CancellationToken ct)
    {
        var delta = await DeltaAsync(desired, "verify", ct).ConfigureAwait(false);
        return GatewayVerification.From(delta.Differences);
    }

    private async Task<NxOsDelta> DeltaAsync(GatewayIntent desired, string operation, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(desired);
        desired.ThrowIfInvalid();
        if (desired.Fhrp != FhrpKind.Hsrp || desired.VirtualIp.AddressFamily != AddressFamily.InterNetwork)
            throw new ArgumentException($"The NX-API driver configures HSRP for IPv4 only; VLAN {desired.Vlan} asks for {desired.Fhrp} {desired.VirtualIp}.", nameof(desired));

        string[] reads = ["show running-config | include ^feature", $"show running-config interface vlan {desired.Vlan}"];
        var request = new DeviceRequest(HttpMethod.Post, _options.Path, NxApiJsonRpc.Request("cli_ascii", reads), NxApiJsonRpc.ContentType,
            "application/json", $"{operation} interface vlan {desired.Vlan}")
        {
            IsAnswer = r => NxApiJsonRpc.IsJsonRpcFailure(r.Status, r.Body),
        };
        var reply = await _channel.SendAsync(request, _ => null, ct).ConfigureAwait(false);
        var outcomes = NxApiJsonRpc.Outcomes(reply.Body)
            ?? throw new GatewayException(_channel.Device, request.Operation, "the reply is not NX-API JSON-RPC");
        var features = outcomes.FirstOrDefault(o => o.Id == 1)
            ?? throw new GatewayException(_channel.Device, request.Operation, "no answer for command 1 (features)");
        if (features.Error is not null) throw new GatewayException(_channel.Device, request.Operation, features.Error);
        var svi = outcomes.FirstOrDefault(o => o.Id == 2)
            ?? throw new GatewayException(_channel.Device, request.Operation, "no answer for command 2 (interface)");
        var state = svi.Error switch
        {
            null => NxOsRunningConfig.Svi(svi.Text ?? "", desired.Vlan),
            // An SVI that was never created is refused as an invalid interface rather than shown empty (unconfirmed wording).
            var e when IsAbsentInterface(e) => NxOsSvi.Absent,
            var e => throw new GatewayException(_channel.Device, request.Operation, e),
        };
        return NxOsDelta.Compute(desired, NxOsRunningConfig.Features(features.Text ?? ""), state);
    }

    private static bool IsAbsentInterface(string error) =>
        error.Contains("Invalid interface", StringComparison.OrdinalIgnoreCase)
        || error.Contains("Invalid range", StringComparison.OrdinalIgnoreCase)
        || error.Contains("does not exist", StringComparison.OrdinalIgnoreCase);

    /// <inheritdoc />
    public void Dispose() => _channel.Dispose();

    [LoggerMessage(EventId = 6101, Level = LogLevel.Information, Message = "{Device}: planned {CommandCount} NX-OS lines for interface vlan {Vlan}")]
    private static partial void LogPlanned(ILogger logger, string device, int vlan, int commandCount);

    [LoggerMessage(EventId = 6102, Level = LogLevel.Information, Message = "{Device}: applied {Change}")]
    private static partial void LogApplied(ILogger logger, string device, string change);
}
