using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Runtime.Versioning;
using System.Text.Json;
using System.Text.Json.Nodes;
using Xunit.Abstractions;

namespace LispMobility.IntegrationTests.Lab;

/// <summary>Output of one command run in the lab.</summary>
public sealed record CommandResult(int ExitCode, string Output, string Error)
{
    /// <summary>Both streams, for failure messages.</summary>
    public override string ToString() => $"exit {ExitCode}\n{Output}\n{Error}";
}

/// <summary>
/// The multi-site lab of the system test: namespaces, veths and bridges built by <c>scripts/netns-lab.sh up --no-agents</c>
/// (the same lab people build by hand), one real <c>lispmobility run</c> per node, and the ways the tests poke at it.
/// Every namespace is deleted on dispose, and leftovers of earlier runs (same name prefix) at the first start.
/// </summary>
public sealed class NetnsLab : IAsyncDisposable
{
    /// <summary>Namespace names of every lab start with this (and nothing else on the machine does).</summary>
    public const string NamePrefix = "lmsys";

    /// <summary>The nodes that run an agent: the Map-Server, the two data centers, the branch.</summary>
    public static readonly string[] AgentNodes = ["ms", "dc1", "dc2", "br"];

    /// <summary>RLOC of each node on the core.</summary>
    public static readonly IReadOnlyDictionary<string, string> Rloc = new Dictionary<string, string>
    {
        ["ms"] = "198.18.0.1", ["dc1"] = "198.18.0.11", ["dc2"] = "198.18.0.12", ["br"] = "198.18.0.13", ["tap"] = "198.18.0.66",
    };

    /// <summary>IPv6 address of each agent node on the core: its RLOC in a lab started with IPv6 RLOCs.</summary>
    public static readonly IReadOnlyDictionary<string, string> Rloc6 = new Dictionary<string, string>
    {
        ["ms"] = "2001:db8:ff::1", ["dc1"] = "2001:db8:ff::11", ["dc2"] = "2001:db8:ff::12", ["br"] = "2001:db8:ff::13",
    };

    private static readonly SemaphoreSlim LeftoversCleaned = new(1);
    private static bool _leftoversDone;
    private readonly ITestOutputHelper? _output;
    private readonly Dictionary<string, AgentProcess> _agents = [];
    private readonly Dictionary<string, HttpClient> _clients = [];
    private VmSwitchover? _switchover;

    private NetnsLab(string prefix, string directory, ITestOutputHelper? output, bool ipv6Rlocs)
    {
        Prefix = prefix;
        Directory = directory;
        _output = output;
        Ipv6Rlocs = ipv6Rlocs;
    }

    /// <summary>True when the nodes' RLOCs (and the Map-Server's address) are their IPv6 core addresses (netns-lab.sh LAB_RLOCS=ipv6).</summary>
    public bool Ipv6Rlocs { get; }

    /// <summary>The RLOC of an agent node in this lab (IPv4 or IPv6, as the lab was started).</summary>
    public string RlocOf(string node) => (Ipv6Rlocs ? Rloc6 : Rloc)[node];

    /// <summary>This lab's namespace prefix.</summary>
    public string Prefix { get; }

    /// <summary>Configs, tokens, databases and logs of this lab.</summary>
    public string Directory { get; }

    /// <summary>
    /// The agent built with this test project, or the one <c>LAB_AGENT_DLL</c> names (e.g. a ReadyToRun publish, to measure
    /// it in the same lab).
    /// </summary>
    public static string AgentDll => Environment.GetEnvironmentVariable("LAB_AGENT_DLL") is { Length: > 0 } dll
        ? dll
        : Path.Combine(AppContext.BaseDirectory, "lispmobility.dll");

    /// <summary>The running agent of <paramref name="node"/>.</summary>
    public AgentProcess Agent(string node) => _agents[node];

    /// <summary>The namespace of a node.</summary>
    public string Ns(string node) => $"{Prefix}-{node}";

    /// <summary>The configuration file of a node.</summary>
    public string Config(string node) => Path.Combine(Directory, node + ".json");

    /// <summary>
    /// Builds the topology, starts every agent and waits until each answers and the aggregates are registered;
    /// <paramref name="configure"/> may change a node's configuration (e.g. shorter timers) before its agent first starts;
    /// <paramref name="ipv6Rlocs"/> puts every RLOC and the Map-Server on the core's IPv6 addresses.
    /// </summary>
    public static async Task<NetnsLab> StartAsync(ITestOutputHelper? output = null, Action<string, JsonObject>? configure = null, bool ipv6Rlocs = false)
    {
        if (!OperatingSystem.IsLinux() || Environment.UserName != "root") throw new InvalidOperationException("the system test needs Linux and root (network namespaces)");
        await CleanLeftoversAsync().ConfigureAwait(false);
        var prefix = NamePrefix + Guid.NewGuid().ToString("N")[..4];
        var lab = new NetnsLab(prefix, Path.Combine(Path.GetTempPath(), "lispmobility-systest", prefix), output, ipv6Rlocs);
        try
        {
            await lab.ScriptAsync("up", "--no-agents").ConfigureAwait(false);
            if (configure is not null)
            {
                foreach (var node in AgentNodes)
                {
                    var config = JsonNode.Parse(File.ReadAllText(lab.Config(node)))!.AsObject();
                    configure(node, config);
                    File.WriteAllText(lab.Config(node), config.ToJsonString());
                }
            }

            foreach (var node in AgentNodes) lab.StartAgent(node);
            foreach (var node in AgentNodes) await lab.WaitReadyAsync(node).ConfigureAwait(false);
            await lab.EventuallyAsync(async () =>
            {
                // Registered, not merely configured: /api/registrations lists each site's configured prefixes too.
                var held = Converged.Registrations(await lab.ApiAsync("ms", "/registrations").ConfigureAwait(false)).Select(r => r.Registration.GetProperty("eid").GetString()).ToList();
                return held.Contains("172.16.4.0/24") && held.Contains("2001:db8:4::/64") && held.Contains("10.50.0.0/24") && held.Contains("2001:db8:50::/64");
            }, TimeSpan.FromSeconds(30), "DC1's and the branch's aggregates (IPv4 and IPv6) registered at the Map-Server").ConfigureAwait(false);
            // Now rather than at the first move, whose switchover would include opening the sockets.
            if (OperatingSystem.IsLinux()) lab.Switchover();
            return lab;
        }
        catch
        {
            await lab.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>Starts (or restarts) the agent of a node.</summary>
    public void StartAgent(string node)
    {
        if (_agents.Remove(node, out var old)) old.Dispose();
        if (!File.Exists(AgentDll)) throw new FileNotFoundException("the agent was not built next to the tests", AgentDll);
        _agents[node] = AgentProcess.Start(Ns(node), AgentDll, Config(node), Path.Combine(Directory, node + ".log"));
    }

    /// <summary>Waits until <c>lispmobility status --json</c> answers for the node.</summary>
    public Task WaitReadyAsync(string node) => EventuallyAsync(async () =>
    {
        if (!_agents[node].IsRunning) throw new InvalidOperationException($"the agent of {node} exited:\n{LogTail(node)}");
        return (await CliAsync(node, "status", "--json").ConfigureAwait(false)).ExitCode == 0;
    }, TimeSpan.FromSeconds(60), $"agent {node} answers status");

    /// <summary>Runs a CLI verb against a node's agent, inside the node's namespace (the verb adds --config).</summary>
    public Task<CommandResult> CliAsync(string node, params string[] args) =>
        RunAsync("ip", ["netns", "exec", Ns(node), "dotnet", AgentDll, .. args, "--config", Config(node)], TimeSpan.FromMinutes(5));

    /// <summary>GETs a management API path (under /api, or /metrics) inside the node's namespace; null when it does not answer.</summary>
    public async Task<JsonElement?> ApiAsync(string node, string path)
    {
        var r = await HttpGetAsync(node, "/api" + path).ConfigureAwait(false);
        if (r.ExitCode != 0) return null;
        using var doc = JsonDocument.Parse(r.Output);
        return doc.RootElement.Clone();
    }

    /// <summary>The text of a node's /healthz (status first line, then the reasons); null when the agent does not answer.</summary>
    public async Task<string?> HealthAsync(string node)
    {
        var r = await HttpGetAsync(node, "/healthz").ConfigureAwait(false);
        return r.ExitCode == -1 ? null : r.Output;
    }

    /// <summary>The site whose port of the VM is up: the lab's inventory, what a hypervisor would report.</summary>
    public Task<string> VmSiteAsync() => OperatingSystem.IsLinux()
        ? Task.FromResult(Switchover().CurrentSite())
        : throw new PlatformNotSupportedException("the lab is Linux only");

    /// <summary>The Prometheus text of a node's /metrics.</summary>
    public async Task<string> MetricsAsync(string node) => (await HttpGetAsync(node, "/metrics").ConfigureAwait(false)).Output;

    /// <summary>Sum of the samples of a metric whose line starts with <paramref name="seriesPrefix"/> (name and leading labels).</summary>
    public async Task<double> MetricAsync(string node, string seriesPrefix)
    {
        var sum = 0.0;
        foreach (var line in (await MetricsAsync(node).ConfigureAwait(false)).Split('\n'))
        {
            if (line.StartsWith(seriesPrefix, StringComparison.Ordinal) && double.TryParse(line[(line.LastIndexOf(' ') + 1)..], NumberStyles.Float, CultureInfo.InvariantCulture, out var v)) sum += v;
        }

        return sum;
    }

    // HTTP to the management API on the node's own loopback, over a TCP socket made inside the node's namespace.
    private async Task<CommandResult> HttpGetAsync(string node, string path)
    {
        if (!_clients.TryGetValue(node, out var client))
        {
            var ns = Ns(node);
            var handler = new SocketsHttpHandler
            {
                ConnectCallback = async (context, ct) =>
                {
                    var socket = NamespaceSocket.Tcp(ns);
                    try
                    {
                        await socket.ConnectAsync(context.DnsEndPoint.Host, context.DnsEndPoint.Port, ct).ConfigureAwait(false);
                        return new NetworkStream(socket, ownsSocket: true);
                    }
                    catch
                    {
                        socket.Dispose();
                        throw;
                    }
                },
            };
            var token = File.ReadAllText(Path.Combine(Directory, node + ".token")).Trim();
            client = new HttpClient(handler) { BaseAddress = new Uri("http://127.0.0.1:4380"), Timeout = TimeSpan.FromSeconds(10) };
            client.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", token);
            _clients[node] = client;
        }

        try
        {
            using var response = await client.GetAsync(new Uri(path, UriKind.Relative)).ConfigureAwait(false);
            var body = await response.Content.ReadAsStringAsync().ConfigureAwait(false);
            return new CommandResult(response.IsSuccessStatusCode ? 0 : (int)response.StatusCode, body, "");
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException or SocketException)
        {
            // The agent is down or restarting: the caller polls again.
            return new CommandResult(-1, "", e.Message);
        }
    }

    /// <summary>Our routes (proto 222) in a node's routing tables, IPv4 then IPv6, as <c>ip route</c> prints them.</summary>
    public async Task<string> RoutesAsync(string node)
    {
        var v4 = await RunAsync("ip", ["-n", Ns(node), "-4", "route", "show", "proto", "222"], TimeSpan.FromSeconds(10)).ConfigureAwait(false);
        var v6 = await RunAsync("ip", ["-n", Ns(node), "-6", "route", "show", "proto", "222"], TimeSpan.FromSeconds(10)).ConfigureAwait(false);
        return v4.Output + v6.Output;
    }

    /// <summary>
    /// Switches the VM's NIC to its port at a site and lets the VM announce itself, as a live migration does: a gratuitous
    /// ARP for its IPv4 address right after the switchover, an unsolicited NA for its IPv6 address (its kernel's, as on a
    /// hypervisor's announce; see netns-lab.sh), then two more gratuitous ARPs a second apart (as `arping -U -c 3` did before:
    /// an agent restarted within two seconds of the move still sees one, which the chaos tests rely on). The switchover and
    /// the first GARP take a millisecond or two (<see cref="VmSwitchover"/>: no process per step, no device moved).
    /// A cold move takes the VM's NIC down before and brings it up after.
    /// </summary>
    public async Task MoveVmAsync(string site, bool cold = false)
    {
        if (!OperatingSystem.IsLinux()) throw new PlatformNotSupportedException("the lab is Linux only");
        var switchover = Switchover();
        var vm = IPAddress.Parse("172.16.4.10");
        var watch = Stopwatch.StartNew();
        if (cold) switchover.SetVmLink(up: false);
        var moved = switchover.Move(site, out var portUp, out var portSwitch);
        if (cold) switchover.SetVmLink(up: true);
        switchover.WaitReady();
        var ready = watch.Elapsed;
        switchover.Garp(vm);
        var switched = watch.Elapsed;
        switchover.AnnounceIPv6();
        Log($"{(moved ? "moved the VM" : "the VM was already")} to {site}: new port up and running at both ends {portUp.TotalMilliseconds:0.00} ms, " +
            $"old port down {portSwitch.TotalMilliseconds:0.00} ms, NIC running {ready.TotalMilliseconds:0.00} ms, first GARP sent {switched.TotalMilliseconds:0.00} ms");
        await RepeatGarpAsync(switchover, vm).ConfigureAwait(false);
    }

    /// <summary>Gratuitous ARPs for an address of the VM (added to its interface first when it is new).</summary>
    public async Task AnnounceAsync(string address)
    {
        if (!OperatingSystem.IsLinux()) throw new PlatformNotSupportedException("the lab is Linux only");
        var switchover = Switchover();
        var ip = IPAddress.Parse(address);
        switchover.AddVmAddress(ip);
        switchover.WaitReady();
        switchover.Garp(ip);
        await RepeatGarpAsync(switchover, ip).ConfigureAwait(false);
        Log($"announced {address}");
    }

    [SupportedOSPlatform("linux")]
    private VmSwitchover Switchover() => _switchover ??= VmSwitchover.Open(Ns);

    [SupportedOSPlatform("linux")]
    private static async Task RepeatGarpAsync(VmSwitchover switchover, IPAddress address)
    {
        for (var i = 0; i < 2; i++)
        {
            await Task.Delay(1000).ConfigureAwait(false);
            switchover.Garp(address);
        }
    }

    /// <summary>
    /// 30 % loss and 50 ms delay on both ends of every site link (or off): tc netem, or on a kernel without it the
    /// user-space emulation (iptables NFQUEUE + <see cref="LinkEmulatorDll"/>). Returns the script's line naming the mechanism.
    /// </summary>
    public async Task<string> NetemAsync(bool on)
    {
        var r = await ScriptAsync("netem", on ? "on" : "off").ConfigureAwait(false);
        var mechanism = r.Output.Split('\n').LastOrDefault(l => l.StartsWith("netem: ", StringComparison.Ordinal))?["netem: ".Length..].Trim()
            ?? throw new InvalidOperationException($"netns-lab.sh netem did not say which mechanism it used: {r}");
        Log($"netem {(on ? "on" : "off")}: {mechanism}");
        return mechanism;
    }

    /// <summary>The link emulator built with this test project (the script's netem on a kernel without sch_netem).</summary>
    public static string LinkEmulatorDll => Path.Combine(AppContext.BaseDirectory, "LispMobility.LinkEmulator.dll");

    /// <summary>Runs <c>ip ARGS</c>, failing the test when it fails.</summary>
    public async Task IpAsync(params string[] args)
    {
        var r = await RunAsync("ip", args, TimeSpan.FromSeconds(20)).ConfigureAwait(false);
        if (r.ExitCode != 0) throw new InvalidOperationException($"ip {string.Join(' ', args)}: {r}");
    }

    /// <summary>Sends each datagram <paramref name="repeat"/> times from the tap namespace (198.18.0.66) to <paramref name="target"/>; returns how many went out.</summary>
    public Task<int> SendFromTapAsync(string target, IReadOnlyList<byte[]> datagrams, int repeat = 1) => Task.Run(() =>
    {
        using var socket = NamespaceSocket.Udp(Ns("tap"));
        var destination = IPEndPoint.Parse(target);
        var sent = 0;
        for (var i = 0; i < repeat; i++)
        {
            foreach (var d in datagrams)
            {
                try
                {
                    socket.SendTo(d, destination);
                    sent++;
                }
                catch (SocketException e) when (e.SocketErrorCode is SocketError.ConnectionRefused or SocketError.NoBufferSpaceAvailable)
                {
                    // ICMP port unreachable from a restarting agent, or a full queue: a flood does not stop for either.
                }
            }
        }

        return sent;
    });

    /// <summary>Polls until <paramref name="condition"/> holds; fails with what was awaited and the agents' log tails.</summary>
    public async Task EventuallyAsync(Func<Task<bool>> condition, TimeSpan deadline, string what)
    {
        var watch = Stopwatch.StartNew();
        while (watch.Elapsed < deadline)
        {
            if (await condition().ConfigureAwait(false))
            {
                Log($"{what}: after {watch.Elapsed.TotalSeconds:0.00} s");
                return;
            }

            await Task.Delay(250).ConfigureAwait(false);
        }

        if (await condition().ConfigureAwait(false)) return;
        throw new TimeoutException($"not within {deadline.TotalSeconds} s: {what}\n{string.Join("\n", _agents.Keys.Select(n => $"--- {n} ---\n{LogTail(n)}"))}");
    }

    /// <summary>The last lines an agent wrote.</summary>
    public string LogTail(string node, int lines = 30)
    {
        var file = Path.Combine(Directory, node + ".log");
        return File.Exists(file) ? string.Join("\n", File.ReadLines(file).TakeLast(lines)) : "(no log)";
    }

    /// <summary>A line in the test's output.</summary>
    public void Log(string line) => _output?.WriteLine($"[{DateTime.UtcNow:HH:mm:ss.fff}] {line}");

    private Task<CommandResult> ScriptAsync(params string[] args)
    {
        var psi = new ProcessStartInfo(ScriptPath()) { UseShellExecute = false };
        psi.Environment["LAB_PREFIX"] = Prefix;
        psi.Environment["LAB_DIR"] = Directory;
        psi.Environment["LINKEMU_DLL"] = LinkEmulatorDll;
        psi.Environment["LAB_RLOCS"] = Ipv6Rlocs ? "ipv6" : "ipv4";
        return RunAsync(psi, args, TimeSpan.FromMinutes(1), check: true);
    }

    private static string ScriptPath()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, "scripts", "netns-lab.sh");
            if (File.Exists(candidate)) return candidate;
        }

        throw new FileNotFoundException("scripts/netns-lab.sh not found above " + AppContext.BaseDirectory);
    }

    /// <summary>Runs a program and collects its output.</summary>
    public static Task<CommandResult> RunAsync(string file, IEnumerable<string> args, TimeSpan timeout) =>
        RunAsync(new ProcessStartInfo(file) { UseShellExecute = false }, args, timeout, check: false);

    private static async Task<CommandResult> RunAsync(ProcessStartInfo psi, IEnumerable<string> args, TimeSpan timeout, bool check)
    {
        psi.RedirectStandardOutput = psi.RedirectStandardError = true;
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var process = Process.Start(psi)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            await process.WaitForExitAsync(cts.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{psi.FileName} {string.Join(' ', psi.ArgumentList)} did not finish within {timeout.TotalSeconds} s");
        }

        var result = new CommandResult(process.ExitCode, await output.ConfigureAwait(false), await error.ConfigureAwait(false));
        if (check && result.ExitCode != 0) throw new InvalidOperationException($"{psi.FileName} {string.Join(' ', psi.ArgumentList)}: {result}");
        return result;
    }

    private static async Task CleanLeftoversAsync()
    {
        await LeftoversCleaned.WaitAsync().ConfigureAwait(false);
        try
        {
            if (_leftoversDone) return;
            var list = await RunAsync("ip", ["netns", "list"], TimeSpan.FromSeconds(10)).ConfigureAwait(false);
            foreach (var name in list.Output.Split('\n').Select(l => l.Split(' ')[0]).Where(n => n.StartsWith(NamePrefix, StringComparison.Ordinal)))
            {
                await DeleteNamespaceAsync(name).ConfigureAwait(false);
            }

            _leftoversDone = true;
        }
        finally
        {
            LeftoversCleaned.Release();
        }
    }

    private static async Task DeleteNamespaceAsync(string name)
    {
        // A process left in the namespace (a crashed run's agent) would keep its sockets; end it first.
        var pids = await RunAsync("ip", ["netns", "pids", name], TimeSpan.FromSeconds(10)).ConfigureAwait(false);
        foreach (var pid in pids.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            await RunAsync("kill", ["-KILL", pid.Trim()], TimeSpan.FromSeconds(10)).ConfigureAwait(false);
        }

        await RunAsync("ip", ["netns", "del", name], TimeSpan.FromSeconds(10)).ConfigureAwait(false);
    }

    /// <summary>Stops every agent and deletes every namespace and file of this lab.</summary>
    public async ValueTask DisposeAsync()
    {
        foreach (var (node, agent) in _agents)
        {
            agent.Dispose();
            Log($"--- {node} log tail ---\n{LogTail(node, 15)}");
        }

        _agents.Clear();
        if (OperatingSystem.IsLinux()) _switchover?.Dispose();
        _switchover = null;
        foreach (var c in _clients.Values) c.Dispose();
        _clients.Clear();
        var list = await RunAsync("ip", ["netns", "list"], TimeSpan.FromSeconds(10)).ConfigureAwait(false);
        foreach (var name in list.Output.Split('\n').Select(l => l.Split(' ')[0]).Where(n => n.StartsWith(Prefix + "-", StringComparison.Ordinal)))
        {
            await DeleteNamespaceAsync(name).ConfigureAwait(false);
        }

        if (System.IO.Directory.Exists(Directory)) System.IO.Directory.Delete(Directory, recursive: true);
    }
}
