using System.Diagnostics;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Xunit;

namespace LispMobility.TestSupport.Vcsim;

/// <summary>
/// One vcsim-lab simulator (VMware's vCenter simulator with a REST layer) on 127.0.0.1 for a test class
/// (<c>IClassFixture&lt;VcsimFixture&gt;</c>). Uses <c>$VCSIM_LAB_BIN</c>, else builds it with the lab's build.sh
/// (cached under ~/.cache/vcsim-lab). Only the fixture's own user and password are accepted.
/// </summary>
public sealed class VcsimFixture : IAsyncLifetime
{
    private static readonly SemaphoreSlim BuildGate = new(1, 1);
    private static string? _builtBinary;
    private readonly string _tmp = Directory.CreateTempSubdirectory("vcsim-").FullName;
    private Process? _process;

    /// <summary>The user the simulator accepts.</summary>
    public string UserName { get; } = "lisp-svc";

    /// <summary>The only password the simulator accepts; random, so a test can search logs for it.</summary>
    public string Password { get; } = "pw-" + Convert.ToHexString(RandomNumberGenerator.GetBytes(8));

    /// <summary>The simulator binary.</summary>
    public string Binary { get; private set; } = "";

    /// <summary>The loopback port (kept across <see cref="RestartAsync"/>).</summary>
    public int Port { get; private set; }

    /// <summary>https://127.0.0.1:PORT/ — no credentials in it.</summary>
    public Uri BaseUrl => new($"https://127.0.0.1:{Port}/");

    /// <summary>The SHA-256 thumbprint (upper-case hex) of the certificate the simulator serves, read over TLS.</summary>
    public string CertificateThumbprint { get; private set; } = "";

    /// <summary>Default inventory (README): DC0_H0 = host-21 standalone; cluster DC0_C0 = clustercomputeresource-27 with hosts DC0_C0_H0/H1/H2.</summary>
    public const string StandaloneHost = "DC0_H0", Cluster = "DC0_C0";

    /// <inheritdoc />
    public async Task InitializeAsync()
    {
        Binary = await FindOrBuildAsync().ConfigureAwait(false);
        await StartAsync(0).ConfigureAwait(false);
        CertificateThumbprint = await ReadThumbprintAsync().ConfigureAwait(false);
    }

    /// <summary>Stops the simulator (SIGTERM), as a vCenter outage.</summary>
    public async Task StopAsync()
    {
        var process = _process;
        _process = null;
        if (process is null) return;
        if (!process.HasExited)
        {
            using (var kill = Process.Start("kill", ["-TERM", process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)])) await kill.WaitForExitAsync().ConfigureAwait(false);
            using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            try { await process.WaitForExitAsync(deadline.Token).ConfigureAwait(false); }
            catch (OperationCanceledException) { process.Kill(entireProcessTree: true); }
        }
        process.Dispose();
    }

    /// <summary>Starts the simulator again on the same port with a fresh default inventory.</summary>
    public async Task RestartAsync()
    {
        await StopAsync().ConfigureAwait(false);
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                await StartAsync(Port).ConfigureAwait(false);
                return;
            }
            catch (InvalidOperationException) when (attempt < 20)
            {
                await Task.Delay(250).ConfigureAwait(false); // the port may linger a moment
            }
        }
    }

    /// <summary>Runs a client subcommand (migrate, set-ip, power, inventory, events); its stdout, or an exception with its stderr.</summary>
    public async Task<string> RunAsync(params string[] arguments)
    {
        var start = new ProcessStartInfo(Binary) { RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add(arguments[0]);
        start.ArgumentList.Add("-u");
        start.ArgumentList.Add($"https://{UserName}:{Password}@127.0.0.1:{Port}/sdk");
        foreach (var argument in arguments.Skip(1)) start.ArgumentList.Add(argument);
        using var process = Process.Start(start) ?? throw new InvalidOperationException("vcsim-lab did not start");
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync().ConfigureAwait(false);
        if (process.ExitCode != 0) throw new InvalidOperationException($"vcsim-lab {string.Join(' ', arguments)} failed ({process.ExitCode}): {await error.ConfigureAwait(false)}");
        return await output.ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async Task DisposeAsync()
    {
        await StopAsync().ConfigureAwait(false);
        try { Directory.Delete(_tmp, recursive: true); }
        catch (IOException) { }
    }

    private async Task StartAsync(int port)
    {
        var start = new ProcessStartInfo(Binary) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in new[] { "serve", "-l", $"127.0.0.1:{port}", "-username", UserName, "-password", Password }) start.ArgumentList.Add(a);
        start.Environment["TMPDIR"] = _tmp;
        var process = Process.Start(start) ?? throw new InvalidOperationException("vcsim-lab serve did not start");
        var errors = new System.Text.StringBuilder();
        process.ErrorDataReceived += (_, e) => { lock (errors) errors.AppendLine(e.Data); };
        process.BeginErrorReadLine();
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        try
        {
            while (await process.StandardOutput.ReadLineAsync(deadline.Token).ConfigureAwait(false) is { } line)
            {
                if (!line.StartsWith("READY ", StringComparison.Ordinal)) continue;
                Port = new Uri(line[6..]).Port;
                _process = process;
                return;
            }
        }
        catch (OperationCanceledException) { }
        process.Kill(entireProcessTree: true);
        await process.WaitForExitAsync().ConfigureAwait(false);
        process.Dispose();
        lock (errors) throw new InvalidOperationException($"vcsim-lab serve on port {port} gave no READY line: {errors}");
    }

    private async Task<string> ReadThumbprintAsync()
    {
        using var tcp = new TcpClient();
        await tcp.ConnectAsync("127.0.0.1", Port).ConfigureAwait(false);
        string? thumbprint = null;
        using var tls = new SslStream(tcp.GetStream(), false, (_, certificate, _, _) =>
        {
            thumbprint = certificate is null ? null : Convert.ToHexString(SHA256.HashData(certificate.GetRawCertData()));
            return true; // reading the thumbprint is the point: nothing is sent over this connection
        });
        await tls.AuthenticateAsClientAsync("127.0.0.1").ConfigureAwait(false);
        return thumbprint ?? throw new InvalidOperationException("the simulator presented no certificate");
    }

    private static async Task<string> FindOrBuildAsync()
    {
        if (Environment.GetEnvironmentVariable("VCSIM_LAB_BIN") is { Length: > 0 } fromEnvironment)
        {
            return File.Exists(fromEnvironment) ? fromEnvironment
                : throw new InvalidOperationException($"VCSIM_LAB_BIN={fromEnvironment} does not exist");
        }
        await BuildGate.WaitAsync().ConfigureAwait(false);
        try
        {
            if (_builtBinary is not null) return _builtBinary;
            var script = FindBuildScript();
            var cache = Environment.GetEnvironmentVariable("VCSIM_LAB_CACHE")
                ?? Path.Combine(Environment.GetEnvironmentVariable("XDG_CACHE_HOME") ?? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache"), "vcsim-lab");
            var start = new ProcessStartInfo(script) { RedirectStandardOutput = true, RedirectStandardError = true };
            start.ArgumentList.Add("--out");
            start.ArgumentList.Add(Path.Combine(cache, "bin"));
            using var build = Process.Start(start) ?? throw new InvalidOperationException($"{script} did not start");
            var output = build.StandardOutput.ReadToEndAsync();
            var error = build.StandardError.ReadToEndAsync();
            await build.WaitForExitAsync().ConfigureAwait(false);
            if (build.ExitCode != 0) throw new InvalidOperationException($"{script} failed ({build.ExitCode}): {await error.ConfigureAwait(false)}");
            return _builtBinary = (await output.ConfigureAwait(false)).Trim().Split('\n')[^1];
        }
        finally
        {
            BuildGate.Release();
        }
    }

    // The lab lives next to the repository: <repo>/../shared/tools/vcsim-lab.
    private static string FindBuildScript()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (!File.Exists(Path.Combine(dir.FullName, "LispMobility.sln"))) continue;
            var script = Path.GetFullPath(Path.Combine(dir.FullName, "..", "shared", "tools", "vcsim-lab", "build.sh"));
            if (File.Exists(script)) return script;
        }
        throw new InvalidOperationException("vcsim-lab not found: set VCSIM_LAB_BIN or keep ../shared/tools/vcsim-lab next to the repository");
    }
}
