using System.Globalization;
using System.Net;
using System.Net.NetworkInformation;
using System.Net.Sockets;
using LispMobility.Platform.Netlink;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace LispMobility.Fabric.Linux;

/// <summary>
/// A Linux host as the site gateway: a macvlan (bridge mode) on the server-facing interface carrying the FHRP virtual
/// MAC and the gateway IP, with <c>proxy_arp</c> and <c>proxy_delay</c> 0 on that macvlan so ARP answers carry the
/// virtual MAC. Works through rtnetlink and /proc/sys in the calling thread's network namespace; never spawns <c>ip</c>.
/// The work is synchronous: the returned tasks are complete, so a caller pinned to a namespace thread stays there.
/// </summary>
public sealed partial class LinuxGatewayDriver : IGatewayDriver
{
    private const string ProcSys = "/proc/sys/net/";
    private readonly LinuxGatewayOptions _options;
    private readonly ILogger _logger;

    /// <summary>Creates the driver; validates <paramref name="options"/> (errors name <paramref name="configPath"/>).</summary>
    public LinuxGatewayDriver(LinuxGatewayOptions options, string configPath = "Fabric:Linux", ILogger<LinuxGatewayDriver>? logger = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.ThrowIfInvalid(configPath);
        _options = options;
        _logger = (ILogger?)logger ?? NullLogger.Instance;
    }

    /// <inheritdoc />
    public string Name => "linux";

    /// <summary>The macvlan name for a VLAN, e.g. <c>lmgw120</c>.</summary>
    public string MacvlanName(int vlan) => string.Create(CultureInfo.InvariantCulture, $"{_options.MacvlanPrefix}{vlan}");

    /// <inheritdoc />
    public Task<GatewayPlan> PlanAsync(GatewayIntent desired, CancellationToken ct)
    {
        ct.ThrowIfCancellationRequested();
        var steps = Run("plan", desired, table => Steps(desired, table));
        LogPlanned(_logger, _options.DeviceName, desired.Vlan, steps.Count);
        return Task.FromResult(new GatewayPlan(Name, _options.DeviceName, steps.Select(s => s.Change).ToList()));
    }

    /// <inheritdoc />
    public Task ApplyAsync(GatewayPlan plan, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(plan);
        if (plan.Driver != Name || plan.Device != _options.DeviceName)
            throw new ArgumentException($"Plan for {plan.Driver}/{plan.Device} cannot be applied by {Name}/{_options.DeviceName}.", nameof(plan));
        foreach (var change in plan.Changes)
        {
            ct.ThrowIfCancellationRequested();
            Run($"apply {change.Target} {change.Payload}", null, table =>
            {
                LinuxChange.Apply(change, table);
                return 0;
            });
            LogApplied(_logger, _options.DeviceName, change.Target, change.Payload);
        }
        return Task.CompletedTask;
    }

    /// <inheritdoc />
    public Task<GatewayVerification> VerifyAsync(GatewayIntent desired, CancellationToken ct)
    {
        ct.ThrowIfCancellationRequested();
        var steps = Run("verify", desired, table => Steps(desired, table));
        return Task.FromResult(GatewayVerification.From(steps.Select(s => s.Difference).ToList()));
    }

    private T Run<T>(string operation, GatewayIntent? desired, Func<LinkTable, T> work)
    {
        desired?.ThrowIfInvalid();
        try
        {
            using var socket = new NetlinkSocket(_options.NetlinkTimeout);
            return work(new LinkTable(socket));
        }
        catch (Exception e) when (e is NetlinkException or IOException or UnauthorizedAccessException or FormatException)
        {
            LogFailed(_logger, _options.DeviceName, operation, e.Message);
            throw new GatewayException(_options.DeviceName, operation, e.Message, false, e);
        }
    }

    private sealed record Step(string Difference, GatewayChange Change);

    private List<Step> Steps(GatewayIntent want, LinkTable table)
    {
        var parent = table.Find(want.InterfaceName)
            ?? throw new GatewayException(_options.DeviceName, "plan", $"interface {want.InterfaceName} does not exist in this network namespace");
        var name = MacvlanName(want.Vlan);
        var mac = VirtualMac.ToColonNotation(want.VirtualMac);
        var steps = new List<Step>();
        var link = table.Find(name);
        if (link is not null && (link.Kind != "macvlan" || link.ParentIndex != parent.Index))
        {
            steps.Add(new($"{name} is a {link.Kind ?? "plain"} link on ifindex {link.ParentIndex?.ToString(CultureInfo.InvariantCulture) ?? "none"}, want a macvlan on {parent.Name}",
                LinuxChange.DeleteLink(name)));
            link = null;
        }
        if (link is null)
        {
            if (steps.Count == 0) steps.Add(new($"macvlan {name} on {parent.Name} does not exist", LinuxChange.CreateMacvlan(name, parent.Name, mac)));
            else steps.Add(new($"macvlan {name} must be recreated on {parent.Name}", LinuxChange.CreateMacvlan(name, parent.Name, mac)));
        }
        else if (!link.Address.Equals(want.VirtualMac))
        {
            steps.Add(new($"{name} MAC is {VirtualMac.ToColonNotation(link.Address)}, want {mac}", LinuxChange.SetAddress(name, mac)));
        }

        if (want.VirtualIp.AddressFamily == AddressFamily.InterNetwork)
        {
            // A link that does not exist yet will inherit the "default" values; predict from those.
            var confOf = link is null ? "default" : name;
            Sysctl(steps, $"{ProcSys}ipv4/conf/{confOf}/proxy_arp", $"{ProcSys}ipv4/conf/{name}/proxy_arp", want.ProxyArp ? "1" : "0");
            if (want.ProxyArp)
                Sysctl(steps, $"{ProcSys}ipv4/neigh/{confOf}/proxy_delay", $"{ProcSys}ipv4/neigh/{name}/proxy_delay", "0");
        }

        if (link is null || !link.Up)
            steps.Add(new($"{name} is {(link is null ? "absent" : "down")}, want up", LinuxChange.SetUp(name)));

        var addresses = link is null ? [] : table.Addresses(link.Index, want.VirtualIp.AddressFamily);
        if (!addresses.Any(a => a.Address.Equals(want.VirtualIp) && a.PrefixLength == want.PrefixLength))
        {
            var found = addresses.Count == 0 ? "none" : string.Join(", ", addresses.Select(a => $"{a.Address}/{a.PrefixLength}"));
            steps.Add(new($"{name} addresses are {found}, want {want.VirtualIp}/{want.PrefixLength}",
                LinuxChange.AddAddress(name, want.VirtualIp, want.PrefixLength)));
        }
        return steps;
    }

    private static void Sysctl(List<Step> steps, string readPath, string writePath, string want)
    {
        var current = File.Exists(readPath) ? File.ReadAllText(readPath).Trim() : "absent";
        if (current != want)
            steps.Add(new($"{writePath} is {current}, want {want}", LinuxChange.WriteSysctl(writePath, want)));
    }

    [LoggerMessage(EventId = 6301, Level = LogLevel.Information, Message = "{Device}: planned {StepCount} Linux gateway changes for VLAN {Vlan}")]
    private static partial void LogPlanned(ILogger logger, string device, int vlan, int stepCount);

    [LoggerMessage(EventId = 6302, Level = LogLevel.Information, Message = "{Device}: applied {Target} {Payload}")]
    private static partial void LogApplied(ILogger logger, string device, string target, string payload);

    [LoggerMessage(EventId = 6303, Level = LogLevel.Error, Message = "{Device}: {Operation} failed: {Reason}")]
    private static partial void LogFailed(ILogger logger, string device, string operation, string reason);
}
