using System.Globalization;
using System.Net;
using LispMobility.Agent.Configuration;
using Microsoft.Extensions.Configuration;

namespace LispMobility.Agent.Hosting;

/// <summary>Where the local management API listens and where its bearer token lives (config section <c>ManagementApi</c>).</summary>
public sealed record ManagementApiOptions
{
    /// <summary>The configuration section these options come from.</summary>
    public const string SectionName = "ManagementApi";

    /// <summary>The default TCP port.</summary>
    public const int DefaultPort = 4380;

    /// <summary>The address to bind; loopback by default so only local users (and the CLI verbs) can reach it.</summary>
    public string BindAddress { get; init; } = "127.0.0.1";

    /// <summary>The TCP port; 0 picks a free one (tests).</summary>
    public int Port { get; init; } = DefaultPort;

    /// <summary>The bearer token file the installer creates.</summary>
    public string TokenFile { get; init; } = DefaultTokenFile;

    /// <summary>The installers' token path: /etc/lispmobility/api-token, or %ProgramData%\LispMobility\api-token on Windows.</summary>
    public static string DefaultTokenFile => OperatingSystem.IsWindows()
        ? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.CommonApplicationData), "LispMobility", "api-token")
        : "/etc/lispmobility/api-token";

    /// <summary>Reads the section, collecting every problem (each naming its config path) instead of stopping at the first.</summary>
    /// <param name="configuration">The configuration holding the section.</param>
    /// <param name="errors">Every problem found.</param>
    /// <param name="os">The system the file is for (paths are judged for it); this one by default.</param>
    /// <returns>The options, or null with <paramref name="errors"/> filled.</returns>
    public static ManagementApiOptions? FromConfiguration(IConfiguration configuration, out IReadOnlyList<string> errors, TargetOs? os = null)
    {
        var target = os ?? TargetOsRules.Current;
        ArgumentNullException.ThrowIfNull(configuration);
        var section = configuration.GetSection(SectionName);
        var problems = new List<string>();
        var options = new ManagementApiOptions();

        if (section[nameof(BindAddress)] is { } bind)
        {
            if (IPAddress.TryParse(bind, out _)) options = options with { BindAddress = bind };
            else problems.Add($"{SectionName}:{nameof(BindAddress)}: '{bind}' is not an IP address (use 127.0.0.1 or ::1 to stay local)");
        }
        if (section[nameof(Port)] is { } portText)
        {
            if (int.TryParse(portText, NumberStyles.None, CultureInfo.InvariantCulture, out var port) && port <= IPEndPoint.MaxPort)
                options = options with { Port = port };
            else problems.Add($"{SectionName}:{nameof(Port)}: '{portText}' is not a TCP port (0-65535)");
        }
        if (section[nameof(TokenFile)] is { } tokenFile)
        {
            if (target.IsAbsolutePath(tokenFile)) options = options with { TokenFile = tokenFile };
            else problems.Add($"{SectionName}:{nameof(TokenFile)}: {target.NotAbsolute(tokenFile, target == TargetOs.Windows ? @"C:\ProgramData\LispMobility\api-token" : "/etc/lispmobility/api-token")}");
        }
        errors = problems;
        return problems.Count == 0 ? options : null;
    }
}
