using System.Runtime.Versioning;
using LispMobility.Agent.Hosting;
using LispMobility.Agent.Logging;
using LispMobility.Agent.Security;
using Microsoft.Extensions.Configuration;

namespace LispMobility.Agent.Tests.Installer;

/// <summary>Runs installer/linux/install.sh for real into a temporary root, from a fake publish directory.</summary>
[UnsupportedOSPlatform("windows")]
public sealed class LinuxInstallerTests : IDisposable
{
    private static readonly string Script = RepositoryPaths.File("installer", "linux", "install.sh");
    private readonly string _work = Directory.CreateTempSubdirectory("lm-install-").FullName;

    public LinuxInstallerTests()
    {
        Directory.CreateDirectory(Publish);
        System.IO.File.WriteAllText(Path.Combine(Publish, "lispmobility"), "#!/bin/sh\necho fake agent\n");
        System.IO.File.WriteAllText(Path.Combine(Publish, "lispmobility.dll"), "not really an assembly");
    }

    private string Publish => Path.Combine(_work, "publish");

    private string Root => Path.Combine(_work, "root");

    private string In(string absolute) => Root + absolute;

    public void Dispose() => Directory.Delete(_work, recursive: true);

    private RepositoryPaths.Result Install(params string[] extra) =>
        RepositoryPaths.Run("bash", [Script, "--prefix", Root, "--no-systemctl", "--from-publish", Publish, .. extra]);

    [Fact]
    public void Installs_program_link_config_token_and_directories()
    {
        var result = Install();

        Assert.True(result.ExitCode == 0, result.All);
        Assert.Contains("not creating system user lispmobility", result.StandardOutput, StringComparison.Ordinal);
        Assert.Equal("#!/bin/sh\necho fake agent\n", System.IO.File.ReadAllText(In("/opt/lispmobility/lispmobility")));
        Assert.True(System.IO.File.Exists(In("/opt/lispmobility/lispmobility.dll")));
        Assert.True((System.IO.File.GetUnixFileMode(In("/opt/lispmobility/lispmobility")) & UnixFileMode.OtherExecute) != 0);
        Assert.Equal("/opt/lispmobility/lispmobility", new FileInfo(In("/usr/local/bin/lispmobility")).LinkTarget);
        Assert.Equal(Mode("0600"), System.IO.File.GetUnixFileMode(In("/etc/lispmobility/api-token")));
        Assert.Equal(Mode("0640"), System.IO.File.GetUnixFileMode(In("/etc/lispmobility/appsettings.json")));
        Assert.Equal(Mode("0750"), System.IO.File.GetUnixFileMode(In("/etc/lispmobility")));
        Assert.True(Directory.Exists(In("/var/lib/lispmobility")));
        Assert.True(Directory.Exists(In("/var/log/lispmobility")));

        // The agent's own reader accepts the installer's token file (format and permissions).
        Assert.Equal(43, ApiToken.Read(In("/etc/lispmobility/api-token")).Value.Length);
    }

    [Fact]
    public void The_config_it_writes_passes_the_agents_option_validation()
    {
        Assert.Equal(0, Install().ExitCode);

        var config = new ConfigurationBuilder().AddJsonFile(In("/etc/lispmobility/appsettings.json")).Build();

        var api = ManagementApiOptions.FromConfiguration(config, out var apiErrors);
        Assert.Empty(apiErrors);
        Assert.Equal("127.0.0.1", api!.BindAddress);
        Assert.Equal("/etc/lispmobility/api-token", api.TokenFile);
        LogOptions.FromConfiguration(config, out var logErrors);
        Assert.Empty(logErrors);
    }

    [Fact]
    public void The_unit_is_Type_notify_with_only_the_network_capabilities()
    {
        Assert.Equal(0, Install().ExitCode);

        var unit = SystemdUnitFile.Parse(System.IO.File.ReadAllText(In("/etc/systemd/system/lispmobility.service")));

        Assert.Equal(["Unit", "Service", "Install"], unit.Sections);
        Assert.Equal("network-online.target", unit.Single("Unit", "After"));
        var service = new Dictionary<string, string>
        {
            ["Type"] = "notify",
            ["NotifyAccess"] = "main",
            ["ExecStart"] = "/opt/lispmobility/lispmobility run --config /etc/lispmobility/appsettings.json",
            ["User"] = "lispmobility",
            ["Group"] = "lispmobility",
            ["AmbientCapabilities"] = "CAP_NET_ADMIN CAP_NET_RAW",
            ["CapabilityBoundingSet"] = "CAP_NET_ADMIN CAP_NET_RAW",
            ["NoNewPrivileges"] = "yes",
            ["Restart"] = "on-failure",
            ["StateDirectory"] = "lispmobility",
            ["LogsDirectory"] = "lispmobility",
            ["WorkingDirectory"] = "/var/lib/lispmobility",
        };
        foreach (var (key, value) in service) Assert.Equal(value, unit.Single("Service", key));
        var watchdog = int.Parse(unit.Single("Service", "WatchdogSec"), System.Globalization.CultureInfo.InvariantCulture);
        Assert.InRange(watchdog, 10, 300);
        // The agent pings at half the watchdog time, from $WATCHDOG_USEC systemd derives from this value.
        Assert.Equal(TimeSpan.FromSeconds(watchdog / 2.0),
            SystemdWatchdogEnvironment.WatchdogIntervalFrom((watchdog * 1_000_000L).ToString(System.Globalization.CultureInfo.InvariantCulture), null, 1));
        Assert.Equal("multi-user.target", unit.Single("Install", "WantedBy"));
    }

    [Fact]
    public void Systemd_accepts_the_unit_when_systemd_analyze_is_present()
    {
        Assert.Equal(0, Install().ExitCode);
        if (!System.IO.File.Exists("/usr/bin/systemd-analyze") && !System.IO.File.Exists("/bin/systemd-analyze"))
        {
            // Without the binary the unit's content is still checked by the parsing test above.
            Assert.True(SystemdUnitFile.Parse(System.IO.File.ReadAllText(In("/etc/systemd/system/lispmobility.service"))).Sections.Count == 3);
            return;
        }
        // verify checks that ExecStart exists: point it at the copy inside the temporary root.
        var unitText = System.IO.File.ReadAllText(In("/etc/systemd/system/lispmobility.service"))
            .Replace("ExecStart=/opt/", $"ExecStart={Root}/opt/", StringComparison.Ordinal);
        var dir = Directory.CreateDirectory(Path.Combine(_work, "verify")).FullName;
        var copy = Path.Combine(dir, "lispmobility.service");
        System.IO.File.WriteAllText(copy, unitText);

        var result = RepositoryPaths.Run("systemd-analyze", "verify", copy);

        Assert.True(result.ExitCode == 0, result.All);
        // Unknown keys and bad values are only warnings for verify: any output at all is a finding.
        Assert.True(result.All.Trim().Length == 0, result.All);
    }

    [Fact]
    public void The_example_config_is_never_enabled_or_started_and_the_output_says_what_to_do()
    {
        var result = RepositoryPaths.Run("bash", Script, "--prefix", Root, "--from-publish", Publish);

        Assert.True(result.ExitCode == 0, result.All);
        Assert.Contains("NOT enabling or starting lispmobility: /etc/lispmobility/appsettings.json still holds the example's 'change-me' keys",
            result.StandardOutput, StringComparison.Ordinal);
        Assert.Contains("edit /etc/lispmobility/appsettings.json", result.StandardOutput, StringComparison.Ordinal);
        Assert.Contains("sudo lispmobility config validate /etc/lispmobility/appsettings.json", result.StandardOutput, StringComparison.Ordinal);
        Assert.Contains("sudo systemctl enable --now lispmobility", result.StandardOutput, StringComparison.Ordinal);
        Assert.DoesNotContain("not calling: systemctl enable", result.StandardOutput, StringComparison.Ordinal);
        Assert.DoesNotContain("not calling: systemctl restart", result.StandardOutput, StringComparison.Ordinal);
        // The change-me check comes first: the program is not even asked.
        Assert.False(System.IO.File.Exists(ValidateLog));
    }

    [Fact]
    public void An_edited_config_is_enabled_only_once_config_validate_passes()
    {
        Directory.CreateDirectory(In("/etc/lispmobility"));
        System.IO.File.WriteAllText(In("/etc/lispmobility/appsettings.json"), "{ \"Xtr\": { \"Site\": \"dc2\" } }");
        FakeValidate(exitCode: 2, "appsettings.json: Xtr:Rlocs: at least one RLOC is required\n1 error(s)");

        var rejected = Install();

        Assert.True(rejected.ExitCode == 0, rejected.All);
        Assert.Equal($"config validate {In("/etc/lispmobility/appsettings.json")}", System.IO.File.ReadAllText(ValidateLog).Trim());
        Assert.Contains("NOT enabling or starting lispmobility: 'lispmobility config validate' rejects /etc/lispmobility/appsettings.json:",
            rejected.StandardOutput, StringComparison.Ordinal);
        Assert.Contains("Xtr:Rlocs: at least one RLOC is required", rejected.StandardOutput, StringComparison.Ordinal);
        Assert.Contains("sudo systemctl enable --now lispmobility", rejected.StandardOutput, StringComparison.Ordinal);
        Assert.DoesNotContain("not calling: systemctl enable", rejected.StandardOutput, StringComparison.Ordinal);

        FakeValidate(exitCode: 0, "appsettings.json: valid");

        var accepted = Install();

        Assert.True(accepted.ExitCode == 0, accepted.All);
        Assert.DoesNotContain("NOT enabling", accepted.StandardOutput, StringComparison.Ordinal);
        Assert.Contains("/etc/lispmobility/appsettings.json passes 'lispmobility config validate'", accepted.StandardOutput, StringComparison.Ordinal);
        var calls = accepted.StandardOutput.Split('\n').Where(l => l.Contains("not calling: systemctl ", StringComparison.Ordinal))
            .Select(l => l[(l.IndexOf("systemctl ", StringComparison.Ordinal) + "systemctl ".Length)..]).ToArray();
        Assert.Equal(["daemon-reload", "enable lispmobility.service", "restart lispmobility.service"], calls);

        var noStart = Install("--no-start");
        Assert.Contains("not calling: systemctl enable lispmobility.service", noStart.StandardOutput, StringComparison.Ordinal);
        Assert.DoesNotContain("not calling: systemctl restart", noStart.StandardOutput, StringComparison.Ordinal);
    }

    [Fact]
    public void The_unit_scores_OK_in_systemd_analyze_security()
    {
        Assert.Equal(0, Install().ExitCode);
        var unit = In("/etc/systemd/system/lispmobility.service");
        var parsed = SystemdUnitFile.Parse(System.IO.File.ReadAllText(unit));
        // What a crash loop and the sandbox depend on, whether or not systemd-analyze is here to score it.
        Assert.Equal("300", parsed.Single("Unit", "StartLimitIntervalSec"));
        Assert.Equal("5", parsed.Single("Unit", "StartLimitBurst"));
        Assert.Equal("strict", parsed.Single("Service", "ProtectSystem"));
        Assert.Equal("@system-service", parsed.Single("Service", "SystemCallFilter"));
        Assert.Equal("AF_UNIX AF_INET AF_INET6 AF_NETLINK AF_PACKET", parsed.Single("Service", "RestrictAddressFamilies"));
        if (!System.IO.File.Exists("/usr/bin/systemd-analyze") && !System.IO.File.Exists("/bin/systemd-analyze")) return;

        // --offline (systemd >= 252) scores the file as it is, without loading it into a running manager.
        var result = RepositoryPaths.Run("systemd-analyze", "security", "--offline=yes", "--no-pager", unit);

        Assert.True(result.ExitCode == 0, result.All);
        var match = System.Text.RegularExpressions.Regex.Match(result.StandardOutput, @"Overall exposure level for lispmobility\.service: (\d+\.\d) (\w+)");
        Assert.True(match.Success, result.All);
        var score = double.Parse(match.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
        Assert.True(score <= 3.0, $"exposure {score} {match.Groups[2].Value}, expected <= 3.0 (OK):\n{result.StandardOutput}");
        Assert.Equal("OK", match.Groups[2].Value);
    }

    [Fact]
    public void Running_twice_replaces_the_program_and_keeps_config_and_token()
    {
        Assert.Equal(0, Install().ExitCode);
        var token = System.IO.File.ReadAllText(In("/etc/lispmobility/api-token"));
        var unit = System.IO.File.ReadAllText(In("/etc/systemd/system/lispmobility.service"));
        System.IO.File.WriteAllText(In("/etc/lispmobility/appsettings.json"), "{ \"edited\": true }");
        System.IO.File.WriteAllText(In("/opt/lispmobility/stale.dll"), "from the previous version");
        System.IO.File.WriteAllText(Path.Combine(Publish, "lispmobility"), "#!/bin/sh\necho new version\n");

        var second = Install();

        Assert.True(second.ExitCode == 0, second.All);
        Assert.Contains("keeping existing /etc/lispmobility/appsettings.json", second.StandardOutput, StringComparison.Ordinal);
        Assert.Equal(token, System.IO.File.ReadAllText(In("/etc/lispmobility/api-token")));
        Assert.Equal("{ \"edited\": true }", System.IO.File.ReadAllText(In("/etc/lispmobility/appsettings.json")));
        Assert.Equal(unit, System.IO.File.ReadAllText(In("/etc/systemd/system/lispmobility.service")));
        Assert.Equal("#!/bin/sh\necho new version\n", System.IO.File.ReadAllText(In("/opt/lispmobility/lispmobility")));
        Assert.False(System.IO.File.Exists(In("/opt/lispmobility/stale.dll")));
        Assert.False(Directory.Exists(In("/opt/lispmobility.new")));
    }

    [Fact]
    public void A_token_file_with_loose_permissions_is_tightened_not_replaced()
    {
        Assert.Equal(0, Install().ExitCode);
        var token = System.IO.File.ReadAllText(In("/etc/lispmobility/api-token"));
        System.IO.File.SetUnixFileMode(In("/etc/lispmobility/api-token"), Mode("0644"));

        Assert.Equal(0, Install().ExitCode);

        Assert.Equal(Mode("0600"), System.IO.File.GetUnixFileMode(In("/etc/lispmobility/api-token")));
        Assert.Equal(token, System.IO.File.ReadAllText(In("/etc/lispmobility/api-token")));
    }

    [Fact]
    public void Uninstall_removes_what_it_installed_and_keeps_config_and_state()
    {
        Assert.Equal(0, Install().ExitCode);
        System.IO.File.WriteAllText(In("/var/lib/lispmobility/audit.db"), "history");

        var result = RepositoryPaths.Run("bash", Script, "--prefix", Root, "--no-systemctl", "--uninstall");

        Assert.True(result.ExitCode == 0, result.All);
        Assert.False(Directory.Exists(In("/opt/lispmobility")));
        Assert.False(System.IO.File.Exists(In("/usr/local/bin/lispmobility")) || new FileInfo(In("/usr/local/bin/lispmobility")).LinkTarget is not null);
        Assert.False(System.IO.File.Exists(In("/etc/systemd/system/lispmobility.service")));
        Assert.True(System.IO.File.Exists(In("/etc/lispmobility/appsettings.json")));
        Assert.True(System.IO.File.Exists(In("/etc/lispmobility/api-token")));
        Assert.Equal("history", System.IO.File.ReadAllText(In("/var/lib/lispmobility/audit.db")));

        var again = RepositoryPaths.Run("bash", Script, "--prefix", Root, "--no-systemctl", "--uninstall");
        Assert.True(again.ExitCode == 0, again.All);
    }

    [Fact]
    public void Uninstall_with_purge_removes_config_state_and_logs_too()
    {
        Assert.Equal(0, Install().ExitCode);

        var result = RepositoryPaths.Run("bash", Script, "--prefix", Root, "--no-systemctl", "--uninstall", "--purge");

        Assert.True(result.ExitCode == 0, result.All);
        foreach (var dir in new[] { "/opt/lispmobility", "/etc/lispmobility", "/var/lib/lispmobility", "/var/log/lispmobility" })
            Assert.False(Directory.Exists(In(dir)), dir);
    }

    [Fact]
    public void A_publish_directory_without_the_executable_is_refused_and_nothing_is_installed()
    {
        System.IO.File.Delete(Path.Combine(Publish, "lispmobility"));

        var result = Install();

        Assert.NotEqual(0, result.ExitCode);
        Assert.Contains($"no 'lispmobility' executable in {Publish}", result.StandardError, StringComparison.Ordinal);
        Assert.False(Directory.Exists(In("/opt/lispmobility")));
    }

    [Fact]
    public void An_unknown_option_is_refused_with_its_name()
    {
        var result = RepositoryPaths.Run("bash", Script, "--prefix", Root, "--frobnicate");

        Assert.NotEqual(0, result.ExitCode);
        Assert.Contains("unknown option '--frobnicate'", result.StandardError, StringComparison.Ordinal);
    }

    private string ValidateLog => Path.Combine(_work, "validate.log");

    /// <summary>Makes the fake program answer <c>config validate</c> with <paramref name="output"/> and <paramref name="exitCode"/>, logging its arguments.</summary>
    private void FakeValidate(int exitCode, string output) =>
        System.IO.File.WriteAllText(Path.Combine(Publish, "lispmobility"),
            $"#!/bin/sh\nif [ \"$1 $2\" = 'config validate' ]; then echo \"$*\" >'{ValidateLog}'; printf '%s\\n' '{output}'; exit {exitCode}; fi\necho fake agent\n");

    private static UnixFileMode Mode(string octal) => (UnixFileMode)Convert.ToInt32(octal, 8);
}
