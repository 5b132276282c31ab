using LispMobility.Agent.Cli;
using LispMobility.Agent.Configuration;

namespace LispMobility.Agent.Tests.Configuration;

/// <summary>
/// <c>config validate</c> on broken files: each case changes a valid agent configuration and lists exactly the errors it must
/// give, with the path, the line and column for syntax and type errors, and what to do.
/// </summary>
[Collection(LispMobility.Agent.Tests.Cli.ConsoleCollection.Name)]
public sealed class ConfigValidatorTests : IDisposable
{
    // One key per line where a case points at a position, so the expected lines and columns can be read off this text.
    private const string Valid = """
        {
          "MapServer": {
            "Listen": [ "127.0.0.1:4342" ],
            "Sites": [
              { "Name": "dc1", "EidPrefixes": [ { "Prefix": "172.16.4.0/24", "AcceptMoreSpecifics": true } ], "Keys": [ { "KeyId": 1, "Key": "k1" } ] },
              { "Name": "dc2", "EidPrefixes": [ { "Prefix": "172.16.4.0/24", "AcceptMoreSpecifics": true } ], "Keys": [ { "KeyId": 1, "Key": "k2" } ] }
            ]
          },
          "Xtr": {
            "Site": "dc1",
            "Rlocs": [ { "Address": "127.0.0.1", "Priority": 1 } ],
            "MapServers": [ { "Address": "127.0.0.1:4342", "KeyId": 1, "Algorithm": "HmacSha256_128", "Key": "k1" } ],
            "MapResolvers": [ "127.0.0.1:4342" ],
            "DatabaseMappings": [ "172.16.4.0/24" ],
            "RegisterInterval": "00:01:00",
            "DynamicEids": [ { "Name": "vm-web", "Interface": "eth1" } ]
          },
          "Mobility": {
            "Database": "/tmp/lispmobility-validate.db",
            "Ranges": [ { "Name": "vm-web", "Prefix": "172.16.4.0/24", "HomeSite": "dc1", "Sites": [ "dc1", "dc2" ] } ]
          },
          "Agent": { "RouteTable": "memory" },
          "ManagementApi": { "BindAddress": "127.0.0.1", "Port": 4380, "TokenFile": "/tmp/lispmobility-validate-token" },
          "Log": { "MinimumLevel": "Information", "File": false }
        }
        """;

    private readonly string _dir = Directory.CreateTempSubdirectory("lispmobility-validate-").FullName;

    public static TheoryData<string, string, string, string[]> Broken() => new()
    {
        { "misspelt section", "\"Agent\": {", "\"Watcher\": {}, \"Agent\": {", ["Watcher (line 22, column 3): unknown section 'Watcher'; did you mean 'Watchers'?"] },
        { "misspelt ManagementApi", "\"ManagementApi\"", "\"ManagmentApi\"", ["ManagmentApi (line 23, column 3): unknown section 'ManagmentApi'; did you mean 'ManagementApi'?"] },
        { "Xtr.MapServer for MapServers", "\"MapResolvers\"", "\"MapServer\": [], \"MapResolvers\"", ["Xtr.MapServer (line 13, column 5): unknown key 'MapServer'; did you mean 'MapServers'?"] },
        { "unknown key in a list item", "\"Address\": \"127.0.0.1\",", "\"Adress\": \"127.0.0.1\",",
            ["Xtr.Rlocs[0].Adress (line 11, column 18): unknown key 'Adress'; did you mean 'Address'?", "Xtr.Rlocs[0].Address: '' is not an IP address"] },
        { "unknown key nowhere near a known one", "\"Site\": \"dc1\",", "\"Site\": \"dc1\", \"Colour\": 1,",
            ["Xtr.Colour (line 10, column 20): unknown key 'Colour'; known keys here: Site, Listen, Rlocs, MapServers, MapResolvers, DatabaseMappings, DynamicEids, XtrId, SiteId, RegisterInterval, QuickRegisterInterval, QuickRegisterWindow, RegisterRetransmitInitial, RegisterRetransmitMax, RegisterDeadline, RecordTtlMinutes, MapCacheSize, MapRequestInterval, MapRequestRetries, MapRequestBackoff, ResolveTimeout, SmrInterval, InUseWindow, DataPlane, RlocProbing, RlocProbeInterval, RlocProbeMissLimit"] },
        { "word for a number", "\"Priority\": 1", "\"Priority\": \"high\"",
            ["Xtr.Rlocs[0].Priority (line 11, column 54): 'high' is not a whole number 0-255; write a number without quotes, e.g. 1"] },
        { "number out of range", "\"Priority\": 1", "\"Priority\": 300",
            ["Xtr.Rlocs[0].Priority (line 11, column 54): '300' is not a whole number 0-255; write a number without quotes, e.g. 1"] },
        { "duration as 5s", "\"00:01:00\"", "\"5s\"",
            ["Xtr.RegisterInterval (line 15, column 25): '5s' is not a duration; write \"hh:mm:ss\" (e.g. \"00:00:30\" for 30 s, \"1.00:00:00\" for a day)"] },
        { "unknown enum value", "\"HmacSha256_128\"", "\"Sha256\"",
            ["Xtr.MapServers[0].Algorithm (line 12, column 77): 'Sha256' is not one of None, HmacSha1_96, HmacSha256_128, HmacSha256_128_HkdfSha256; write one of them, e.g. \"None\""] },
        { "yes for a boolean", "\"File\": false", "\"File\": \"yes\"", ["Log.File: 'yes' must be true or false"] },
        { "text where a list goes", "\"MapResolvers\": [ \"127.0.0.1:4342\" ]", "\"MapResolvers\": \"127.0.0.1:4342\"",
            ["Xtr.MapResolvers (line 13, column 21): expected a list [ ... ], found '127.0.0.1:4342'; write [ \"...\" ]"] },
        { "text where a section goes", "\"Agent\": { \"RouteTable\": \"memory\" }", "\"Agent\": \"memory\"",
            ["Agent (line 22, column 12): expected an object { ... }, found 'memory'"] },
        { "object where text goes: one error, not also 'required'", "\"Site\": \"dc1\"", "\"Site\": { \"Name\": \"dc1\" }",
            ["Xtr.Site (line 10, column 13): expected a string, found an object { }; write it in quotes, e.g. \"text\""] },
        { "missing comma", "\"Site\": \"dc1\",", "\"Site\": \"dc1\"",
            ["(syntax) (line 11, column 5): not valid JSON: '\"' is invalid after a value. Expected either ',', '}', or ']'; check for a missing comma, quote or bracket just before"] },
        { "a key written twice", "\"Site\": \"dc1\",", "\"Site\": \"dc1\", \"site\": \"dc2\",", ["Xtr.site (line 10, column 20): written twice in the same object; keep one"] },
        { "Xtr.Site not a Map-Server site", "\"Site\": \"dc1\"", "\"Site\": \"dc9\"",
            ["Xtr.DynamicEids[0].Name: range 'vm-web' may not live at this site 'dc9' (Mobility.Ranges Sites: dc1, dc2); add the site to the range's Sites or remove this entry",
             "Xtr.Site: 'dc9' is not a site of the embedded Map-Server (dc1, dc2); correct the name or add the site to MapServer.Sites"] },
        { "range outside a site's prefixes", "{ \"Name\": \"dc2\", \"EidPrefixes\": [ { \"Prefix\": \"172.16.4.0/24\"", "{ \"Name\": \"dc2\", \"EidPrefixes\": [ { \"Prefix\": \"10.0.0.0/8\"",
            ["Mobility.Ranges[0].Prefix: 172.16.4.0/24 is outside site dc2's EID prefixes at the embedded Map-Server (10.0.0.0/8 accept-more-specifics); add { \"Prefix\": \"172.16.4.0/24\", \"AcceptMoreSpecifics\": true } to MapServer.Sites[1].EidPrefixes"] },
        { "a visited site that refuses more-specifics", "\"Prefix\": \"172.16.4.0/24\", \"AcceptMoreSpecifics\": true } ], \"Keys\": [ { \"KeyId\": 1, \"Key\": \"k2\" }",
            "\"Prefix\": \"172.16.4.0/24\", \"AcceptMoreSpecifics\": false } ], \"Keys\": [ { \"KeyId\": 1, \"Key\": \"k2\" }",
            ["Mobility.Ranges[0].Prefix: 172.16.4.0/24 is outside site dc2's EID prefixes at the embedded Map-Server (172.16.4.0/24); add { \"Prefix\": \"172.16.4.0/24\", \"AcceptMoreSpecifics\": true } to MapServer.Sites[1].EidPrefixes"] },
        { "database mapping outside the site", "\"DatabaseMappings\": [ \"172.16.4.0/24\" ]", "\"DatabaseMappings\": [ \"172.16.4.0/24\", \"10.9.0.0/16\" ]",
            ["Xtr.DatabaseMappings[1]: 10.9.0.0/16 is outside site dc1's EID prefixes at the embedded Map-Server (172.16.4.0/24 accept-more-specifics); add it to MapServer.Sites[0].EidPrefixes"] },
        { "xTR key differs from the Map-Server's", "\"Key\": \"k1\" } ],\n    \"MapResolvers\"", "\"Key\": \"k9\" } ],\n    \"MapResolvers\"",
            ["Xtr.MapServers[0]: the key differs from site dc1's key-id 1 at the embedded Map-Server (MapServer.Sites[0].Keys); use the same key-id, algorithm and key in both places"] },
        { "xTR key-id unknown to the Map-Server", "\"KeyId\": 1, \"Algorithm\"", "\"KeyId\": 7, \"Algorithm\"",
            ["Xtr.MapServers[0]: key-id 7 is not one of site dc1's keys (1) at the embedded Map-Server (MapServer.Sites[0].Keys); use the same key-id, algorithm and key in both places"] },
        { "xTR algorithm differs", "\"HmacSha256_128\"", "\"HmacSha1_96\"",
            ["Xtr.MapServers[0]: algorithm HmacSha1_96 differs from site dc1's key-id 1 (HmacSha256_128) at the embedded Map-Server (MapServer.Sites[0].Keys); use the same key-id, algorithm and key in both places"] },
        { "old-style dynamic EID that disagrees", "{ \"Name\": \"vm-web\", \"Interface\": \"eth1\" }", "{ \"Name\": \"vm-web\", \"Prefix\": \"172.16.5.0/24\", \"Interface\": \"eth1\" }",
            ["Xtr.DynamicEids[0].Prefix: '172.16.5.0/24' disagrees with Mobility.Ranges 'vm-web' (172.16.4.0/24); remove Prefix here (the range's Prefix is the one source)"] },
        { "dynamic EID with no range", "{ \"Name\": \"vm-web\", \"Interface\": \"eth1\" }", "{ \"Name\": \"vm-db\", \"Prefix\": \"172.16.6.0/24\" }",
            ["Xtr.DynamicEids[0].Name: no range 'vm-db' in Mobility.Ranges; ranges are defined there once (Name, Prefix, HomeSite, Sites, Mode) — add it there and keep only Name, Interface and MapNotifyGroup here"] },
        { "range naming an unknown site", "\"Sites\": [ \"dc1\", \"dc2\" ]", "\"Sites\": [ \"dc1\", \"dc7\" ]",
            ["Mobility.Ranges[0].Sites: 'dc7' is not a configured site (dc1, dc2)"] },
        { "log level unknown", "\"MinimumLevel\": \"Information\"", "\"MinimumLevel\": \"Loud\"",
            ["Log.MinimumLevel: 'Loud' is not one of Verbose, Debug, Information, Warning, Error, Fatal"] },
        { "management port not a number", "\"Port\": 4380", "\"Port\": \"http\"", ["ManagementApi.Port: 'http' is not a TCP port (0-65535)"] },
        { "a bad value beside a type error in one section: both", "\"Address\": \"127.0.0.1\", \"Priority\": 1", "\"Address\": \"nope\", \"Priority\": -1",
            ["Xtr.Rlocs[0].Priority (line 11, column 49): '-1' is not a whole number 0-255; write a number without quotes, e.g. 1", "Xtr.Rlocs[0].Address: 'nope' is not an IP address"] },
        { "the root is a list", Valid, "[ ]", ["(root) (line 1, column 1): the file must be one JSON object { \"Xtr\": { ... }, ... }"] },
        { "an empty file", Valid, "", ["(syntax) (line 1, column 1): the file is empty; write one JSON object { \"Xtr\": { ... }, ... } (see config/appsettings.example.json)"] },
    };

    [Theory]
    [MemberData(nameof(Broken))]
    public void A_broken_file_gives_exactly_these_errors(string what, string find, string replace, string[] expected)
    {
        Assert.Contains(find, Valid, StringComparison.Ordinal);
        var file = Write(Valid.Replace(find, replace, StringComparison.Ordinal));

        var errors = ConfigValidator.Validate(file, out _).Select(e => e.ToString()).ToArray();

        Assert.True(expected.SequenceEqual(errors), $"{what}:\n  expected: {string.Join("\n            ", expected)}\n  actual:   {string.Join("\n            ", errors)}");
    }

    [Fact]
    public void The_valid_file_is_valid()
    {
        Assert.Empty(ConfigValidator.Validate(Write(Valid), out _));
    }

    [Fact]
    public void Six_mistakes_give_six_errors_and_exit_2()
    {
        var text = Valid.Replace("\"Agent\": {", "\"Watcher\": {}, \"Agent\": {", StringComparison.Ordinal)
            .Replace("\"MapResolvers\"", "\"MapServer\": [], \"MapResolvers\"", StringComparison.Ordinal)
            .Replace("\"Priority\": 1", "\"Priority\": \"high\"", StringComparison.Ordinal)
            .Replace("\"00:01:00\"", "\"5s\"", StringComparison.Ordinal)
            .Replace("\"KeyId\": 1, \"Algorithm\"", "\"KeyId\": 7, \"Algorithm\"", StringComparison.Ordinal)
            .Replace("\"MinimumLevel\": \"Information\"", "\"MinimumLevel\": \"Loud\"", StringComparison.Ordinal);
        var output = new StringWriter();

        var exit = ConfigCommands.Validate(Write(text), TargetOsRules.Current, output);

        Assert.Equal(2, exit);
        Assert.EndsWith("6 error(s)" + Environment.NewLine, output.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Run_refuses_what_validate_refuses_before_starting_anything()
    {
        var file = Write(Valid.Replace("\"Agent\": {", "\"Watcher\": {}, \"Agent\": {", StringComparison.Ordinal));
        var stderr = new StringWriter();
        var saved = Console.Error;
        Console.SetError(stderr);
        int exit;
        try
        {
            exit = await Agent.Service.RunCommand.RunAsync(file, CancellationToken.None);
        }
        finally
        {
            Console.SetError(saved);
        }

        Assert.Equal(2, exit);
        Assert.Contains("agent.json: Watcher (line 22, column 3): unknown section 'Watcher'; did you mean 'Watchers'?", stderr.ToString(), StringComparison.Ordinal);
        Assert.Contains("1 configuration error(s); nothing was started", stderr.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void Ranges_are_written_once_and_the_xtr_dynamic_eids_are_derived_from_them()
    {
        // vm-db lists this site with no Xtr.DynamicEids entry: the xTR still serves it; vm-far does not list this site.
        var text = Valid.Replace("\"Sites\": [ \"dc1\", \"dc2\" ] } ]",
            "\"Sites\": [ \"dc1\", \"dc2\" ] }, { \"Name\": \"vm-db\", \"Prefix\": \"172.16.8.0/24\", \"HomeSite\": \"dc1\", \"Sites\": [ \"dc1\" ], \"Mode\": \"ExtendedSubnet\" }, " +
            "{ \"Name\": \"vm-far\", \"Prefix\": \"10.1.0.0/16\", \"HomeSite\": \"dc2\", \"Sites\": [ \"dc2\" ] } ]", StringComparison.Ordinal);
        var errors = new List<string>();
        ConfigValidator.Validate(Write(text), out var root);

        var config = Agent.Service.AgentConfiguration.Load(root!, errors);

        Assert.Empty(errors);

        var dynamic = config!.Xtr.DynamicEids.Select(d => $"{d.Name} {d.Prefix} {d.Mode} {d.Interface}").ToArray();
        Assert.Equal(["vm-web 172.16.4.0/24 AcrossSubnet eth1", "vm-db 172.16.8.0/24 ExtendedSubnet "], dynamic);
    }

    /// <summary>
    /// Every file in config/, so that a new example is checked the day it is added, each for the system it is written for
    /// (*.windows.example.json for Windows) whatever system runs the test.
    /// </summary>
    public static TheoryData<string, TargetOs> ShippedExamples()
    {
        var data = new TheoryData<string, TargetOs>();
        foreach (var f in Directory.GetFiles(Installer.RepositoryPaths.File("config"), "*.json").Order(StringComparer.Ordinal))
        {
            data.Add(Path.GetFileName(f), f.EndsWith(".windows.example.json", StringComparison.Ordinal) ? TargetOs.Windows : TargetOs.Linux);
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(ShippedExamples))]
    public void The_shipped_examples_are_valid_for_their_system(string name, TargetOs os)
    {
        var output = new StringWriter();

        var exit = ConfigCommands.Validate(new FileInfo(Installer.RepositoryPaths.File("config", name)), os, output);

        Assert.True(exit == 0, output.ToString());
        Assert.EndsWith($"{name}: valid for {os.Name()}", output.ToString().Trim(), StringComparison.Ordinal);
    }

    [Fact]
    public void Linux_paths_in_a_file_for_windows_are_each_named_with_a_windows_example()
    {
        var output = new StringWriter();

        var exit = ConfigCommands.Validate(Write(Valid), TargetOs.Windows, output);

        Assert.Equal(2, exit);
        Assert.Equal([
            @"agent.json: Mobility.Database: '/tmp/lispmobility-validate.db' is not an absolute Windows path; write a drive-rooted one such as C:\ProgramData\LispMobility\lispmobility.db (the file is validated for Windows; --os linux if it is for Linux)",
            @"agent.json: ManagementApi.TokenFile: '/tmp/lispmobility-validate-token' is not an absolute Windows path; write a drive-rooted one such as C:\ProgramData\LispMobility\api-token (the file is validated for Windows; --os linux if it is for Linux)",
            "2 error(s)",
        ], output.ToString().Split(Environment.NewLine, StringSplitOptions.RemoveEmptyEntries));
    }

    [Fact]
    public void Windows_paths_and_settings_in_a_file_for_linux_are_each_named_with_a_linux_example()
    {
        var text = Valid.Replace("\"/tmp/lispmobility-validate-token\"", "\"C:\\\\ProgramData\\\\LispMobility\\\\api-token\"", StringComparison.Ordinal)
            .Replace("\"File\": false", "\"File\": false, \"Directory\": \"D:/logs\"", StringComparison.Ordinal);
        var output = new StringWriter();

        var exit = ConfigCommands.Validate(Write(text), TargetOs.Linux, output);

        Assert.Equal(2, exit);
        Assert.Equal([
            "2 error(s)",
            @"agent.json: Log.Directory: 'D:/logs' is not an absolute Linux path; write one starting with / such as /var/log/lispmobility (the file is validated for Linux; --os windows if it is for Windows)",
            @"agent.json: ManagementApi.TokenFile: 'C:\ProgramData\LispMobility\api-token' is not an absolute Linux path; write one starting with / such as /etc/lispmobility/api-token (the file is validated for Linux; --os windows if it is for Windows)",
        ], output.ToString().Split(Environment.NewLine, StringSplitOptions.RemoveEmptyEntries).Order(StringComparer.Ordinal));
    }

    [Fact]
    public void The_linux_only_data_plane_sniffer_and_libvirt_watcher_are_refused_in_a_file_for_windows_wherever_it_is_validated()
    {
        var text = Valid.Replace("/tmp/lispmobility-validate-token", "C:/ProgramData/LispMobility/api-token", StringComparison.Ordinal)
            .Replace("/tmp/lispmobility-validate.db", "lispmobility.db", StringComparison.Ordinal)
            .Replace("\"RegisterInterval\"", "\"DataPlane\": { \"Enabled\": true }, \"RegisterInterval\"", StringComparison.Ordinal)
            .Replace("\"Agent\": {", "\"Watchers\": { \"DataPlane\": { \"Interfaces\": [ \"eth1\" ] }, \"Libvirt\": { \"Connections\": [ { \"Uri\": \"qemu:///system\" } ] } }, \"Agent\": {", StringComparison.Ordinal);
        var file = Write(text);

        var forWindows = ConfigValidator.Validate(file, out _, TargetOs.Windows).Select(e => e.ToString()).ToList();

        Assert.Equal(3, forWindows.Count);
        Assert.Contains(forWindows, e => e.StartsWith("Xtr.DataPlane.Enabled", StringComparison.Ordinal) && e.Contains("Linux only", StringComparison.Ordinal));
        Assert.Contains(forWindows, e => e.Contains("Watchers", StringComparison.Ordinal) && e.Contains("DataPlane", StringComparison.Ordinal) && e.Contains("runs on Linux only", StringComparison.Ordinal));
        Assert.Contains(forWindows, e => e.Contains("Libvirt", StringComparison.Ordinal) && e.Contains("Linux hypervisor hosts only", StringComparison.Ordinal));
        // For Linux the same sections are fine; only the Windows token path is not.
        Assert.Equal(["ManagementApi.TokenFile"], ConfigValidator.Validate(file, out _, TargetOs.Linux).Select(e => e.Path));
    }

    [Fact]
    public void The_journald_socket_is_refused_in_a_file_for_windows_and_must_be_an_absolute_linux_path_in_one_for_linux()
    {
        var forBoth = Valid.Replace("/tmp/lispmobility-validate-token", "C:/ProgramData/LispMobility/api-token", StringComparison.Ordinal)
            .Replace("/tmp/lispmobility-validate.db", "lispmobility.db", StringComparison.Ordinal);
        var socket = Write(forBoth.Replace("\"File\": false", "\"File\": false, \"JournalSocket\": \"/run/systemd/journal/socket\"", StringComparison.Ordinal));

        var forWindows = Assert.Single(ConfigValidator.Validate(socket, out _, TargetOs.Windows));
        var forLinux = ConfigValidator.Validate(socket, out _, TargetOs.Linux);

        Assert.Equal("Log.JournalSocket", forWindows.Path);
        Assert.Contains("exists on Linux only", forWindows.ToString(), StringComparison.Ordinal);
        Assert.Equal(["ManagementApi.TokenFile"], forLinux.Select(e => e.Path));
        var relative = Write(forBoth.Replace("\"File\": false", "\"File\": false, \"JournalSocket\": \"journal.sock\"", StringComparison.Ordinal));
        Assert.Equal(["Log.JournalSocket: 'journal.sock' is not an absolute Linux path; write one starting with / such as /run/systemd/journal/socket (the file is validated for Linux; --os windows if it is for Windows)"],
            ConfigValidator.Validate(relative, out _, TargetOs.Linux).Where(e => e.Path != "ManagementApi.TokenFile").Select(e => e.ToString()));
    }

    [Fact]
    public void Kernel_routes_are_valid_for_both_systems()
    {
        var kernel = Write(Valid.Replace("\"RouteTable\": \"memory\"", "\"RouteTable\": \"kernel\"", StringComparison.Ordinal)
            .Replace("/tmp/lispmobility-validate-token", "C:/ProgramData/LispMobility/api-token", StringComparison.Ordinal)
            .Replace("/tmp/lispmobility-validate.db", "lispmobility.db", StringComparison.Ordinal));

        Assert.Empty(ConfigValidator.Validate(kernel, out _, TargetOs.Windows));
        Assert.Equal(["ManagementApi.TokenFile"], ConfigValidator.Validate(kernel, out _, TargetOs.Linux).Select(e => e.Path));
    }

    [Theory]
    [InlineData(TargetOs.Windows, @"C:\ProgramData\LispMobility", true)]
    [InlineData(TargetOs.Windows, "c:/ProgramData", true)]
    [InlineData(TargetOs.Windows, @"\\server\share\token", true)]
    [InlineData(TargetOs.Windows, @"C:relative", false)]
    [InlineData(TargetOs.Windows, @"\ProgramData", false)]
    [InlineData(TargetOs.Windows, "/var/log/lispmobility", false)]
    [InlineData(TargetOs.Windows, "", false)]
    [InlineData(TargetOs.Linux, "/var/log/lispmobility", true)]
    [InlineData(TargetOs.Linux, @"C:\ProgramData\LispMobility", false)]
    [InlineData(TargetOs.Linux, "logs", false)]
    [InlineData(TargetOs.Linux, "", false)]
    public void A_path_is_absolute_by_the_rules_of_the_target_system(TargetOs os, string path, bool absolute) =>
        Assert.Equal(absolute, os.IsAbsolutePath(path));

    [Theory]
    [InlineData(TargetOs.Windows, "/var/lib/lispmobility/lispmobility.db", true)]
    [InlineData(TargetOs.Windows, "lispmobility.db", false)]
    [InlineData(TargetOs.Windows, @"C:\ProgramData\LispMobility\lispmobility.db", false)]
    [InlineData(TargetOs.Linux, @"C:\ProgramData\LispMobility\lispmobility.db", true)]
    [InlineData(TargetOs.Linux, "lispmobility.db", false)]
    [InlineData(TargetOs.Linux, "//server/share/lispmobility.db", false)]
    public void A_relative_path_is_not_the_other_systems_but_its_absolute_one_is(TargetOs os, string path, bool other) =>
        Assert.Equal(other, os.IsOtherSystemsPath(path));

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private FileInfo Write(string text)
    {
        var file = new FileInfo(Path.Combine(_dir, "agent.json"));
        File.WriteAllText(file.FullName, text);
        return file;
    }
}
