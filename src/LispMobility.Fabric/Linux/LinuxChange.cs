using System.Globalization;
using System.Net;
using System.Net.NetworkInformation;
using System.Text;

namespace LispMobility.Fabric.Linux;

/// <summary>
/// The Linux gateway's changes in readable form — a sysctl file and value, or a netlink message type with its
/// fields as <c>key=value</c> — and their execution from exactly that form, so a dry run shows what apply does.
/// </summary>
internal static class LinuxChange
{
    private const string NewLink = "netlink RTM_NEWLINK", DelLink = "netlink RTM_DELLINK", NewAddr = "netlink RTM_NEWADDR", Sysctl = "sysctl ";

    public static GatewayChange CreateMacvlan(string name, string parent, string mac) =>
        new(NewLink, $"create macvlan {name} on {parent} with MAC {mac}",
            $"flags=request,ack,create,excl ifname={name} link={parent} address={mac} linkinfo.kind=macvlan linkinfo.data.mode=bridge");

    public static GatewayChange DeleteLink(string name) => new(DelLink, $"delete {name}", $"flags=request,ack ifname={name}");

    public static GatewayChange SetAddress(string name, string mac) =>
        new(NewLink, $"set {name} MAC to {mac}", $"flags=request,ack ifname={name} address={mac}");

    public static GatewayChange SetUp(string name) => new(NewLink, $"bring {name} up", $"flags=request,ack ifname={name} ifi_flags=up ifi_change=up");

    public static GatewayChange AddAddress(string name, IPAddress address, int prefixLength) =>
        new(NewAddr, $"add {address}/{prefixLength} to {name}",
            string.Create(CultureInfo.InvariantCulture, $"flags=request,ack,create,replace ifname={name} address={address}/{prefixLength}"));

    public static GatewayChange WriteSysctl(string path, string value) => new(Sysctl + path, $"set {path} to {value}", value);

    public static void Apply(GatewayChange change, LinkTable table)
    {
        if (change.Target.StartsWith(Sysctl, StringComparison.Ordinal))
        {
            var path = change.Target[Sysctl.Length..];
            if (!path.StartsWith("/proc/sys/net/", StringComparison.Ordinal) || path.Contains("..", StringComparison.Ordinal))
                throw new FormatException($"sysctl path {path} is outside /proc/sys/net/");
            using var file = new FileStream(path, FileMode.Open, FileAccess.Write);
            file.Write(Encoding.ASCII.GetBytes(change.Payload + "\n"));
            return;
        }
        var fields = Fields(change.Payload);
        var name = Require(fields, "ifname");
        switch (change.Target)
        {
            case DelLink:
                table.Delete(name);
                break;
            case NewLink when fields.TryGetValue("linkinfo.kind", out var kind):
                if (kind != "macvlan") throw new FormatException($"link kind {kind} is not supported");
                var parent = Require(fields, "link");
                var parentLink = table.Find(parent) ?? throw new FormatException($"interface {parent} does not exist");
                table.CreateMacvlan(name, parentLink.Index, Mac(Require(fields, "address")));
                break;
            case NewLink when fields.ContainsKey("ifi_flags"):
                table.SetUp(name);
                break;
            case NewLink:
                table.SetAddress(name, Mac(Require(fields, "address")));
                break;
            case NewAddr:
                var link = table.Find(name) ?? throw new FormatException($"interface {name} does not exist");
                var parts = Require(fields, "address").Split('/');
                table.AddAddress(link.Index, IPAddress.Parse(parts[0]), int.Parse(parts[1], CultureInfo.InvariantCulture));
                break;
            default:
                throw new FormatException($"change target '{change.Target}' is not a Linux gateway change");
        }
    }

    private static Dictionary<string, string> Fields(string payload) =>
        payload.Split(' ', StringSplitOptions.RemoveEmptyEntries)
            .Select(t => t.Split('=', 2))
            .Where(kv => kv.Length == 2)
            .ToDictionary(kv => kv[0], kv => kv[1], StringComparer.Ordinal);

    private static string Require(Dictionary<string, string> fields, string key) =>
        fields.TryGetValue(key, out var value) ? value : throw new FormatException($"the change has no {key}=");

    private static PhysicalAddress Mac(string text) => PhysicalAddress.Parse(text.Replace(':', '-'));
}
