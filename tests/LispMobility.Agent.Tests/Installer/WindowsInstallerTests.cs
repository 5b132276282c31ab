namespace LispMobility.Agent.Tests.Installer;

/// <summary>install.ps1 cannot run here (no Windows); this checks its interface and the commands it relies on,
/// and has PowerShell parse it where pwsh is installed.</summary>
public sealed class WindowsInstallerTests
{
    private static readonly string Script = RepositoryPaths.File("installer", "windows", "install.ps1");
    private readonly string _text = File.ReadAllText(Script);

    [Theory]
    [InlineData("[string] $InstallDir")]
    [InlineData("[string] $DataDir")]
    [InlineData("[string] $FromPublish")]
    [InlineData("[switch] $SelfContained")]
    [InlineData("[switch] $NoStart")]
    [InlineData("[switch] $Uninstall")]
    [InlineData("[switch] $Purge")]
    public void Declares_its_parameters(string declaration) => Assert.Contains(declaration, ParamBlock(), StringComparison.Ordinal);

    [Theory]
    [InlineData("Assert-Administrator")]
    [InlineData("$ErrorActionPreference = 'Stop'")]
    [InlineData("& dotnet publish $project -c Release -o $Output -r $rid --self-contained $sc")]
    [InlineData("New-Service -Name $ServiceName -BinaryPathName $binPath")]
    [InlineData("\"`\"$Exe`\" run --config `\"$Config`\"\"")]
    [InlineData("& sc.exe failure $ServiceName reset= 86400 actions= restart/5000/restart/5000/restart/60000")]
    [InlineData("[System.Diagnostics.EventLog]::CreateEventSource($EventSource, 'Application')")]
    [InlineData("$EventSource = 'LispMobility'")]
    [InlineData("& icacls.exe $Path /inheritance:r /grant:r '*S-1-5-18:(F)' '*S-1-5-32-544:(F)'")]
    [InlineData("$bytes = New-Object byte[] 32")]
    [InlineData(".TrimEnd('=').Replace('+', '-').Replace('/', '_')")]
    [InlineData("& sc.exe delete $ServiceName")]
    [InlineData("[System.Diagnostics.EventLog]::DeleteEventSource($EventSource)")]
    public void Uses_the_commands_the_install_depends_on(string command) => Assert.Contains(command, _text, StringComparison.Ordinal);

    [Fact]
    public void The_token_is_protected_before_the_secret_is_written()
    {
        var protect = _text.IndexOf("Protect-File $Token\n    [IO.File]::WriteAllText($Token", StringComparison.Ordinal);
        Assert.True(protect > 0, "Write-Token must call Protect-File on the empty file before writing the token");
    }

    [Fact]
    public void The_config_is_never_overwritten() =>
        Assert.Contains("if (Test-Path $Config) { Protect-File $Config; Say \"keeping existing $Config\"; return }", _text, StringComparison.Ordinal);

    [Fact]
    public void No_variable_in_a_string_is_followed_by_a_colon()
    {
        // "$name: text" is read by PowerShell as a drive-qualified variable and fails to parse; "${name}:" is meant.
        var bad = System.Text.RegularExpressions.Regex.Matches(_text, @"\$(?!env:)[A-Za-z_][A-Za-z0-9_]*:[^A-Za-z]")
            .Select(m => m.Value).ToList();
        Assert.Empty(bad);
    }

    [Fact]
    public void PowerShell_parses_it_when_pwsh_is_installed()
    {
        var pwsh = new[] { "/usr/bin/pwsh", "/usr/local/bin/pwsh", "/opt/microsoft/powershell/7/pwsh" }.FirstOrDefault(File.Exists);
        if (pwsh is null)
        {
            // No PowerShell on this machine: the parse check runs wherever pwsh exists (a Windows or pwsh-equipped CI).
            Assert.Contains("[CmdletBinding()]", _text, StringComparison.Ordinal);
            return;
        }
        var command = "$e = $null; [void][System.Management.Automation.Language.Parser]::ParseFile('" + Script.Replace("'", "''", StringComparison.Ordinal)
            + "', [ref]$null, [ref]$e); $e | ForEach-Object { $_.ToString() }; exit $e.Count";

        var result = RepositoryPaths.Run(pwsh, "-NoProfile", "-NonInteractive", "-Command", command);

        Assert.True(result.ExitCode == 0, result.All);
    }

    private string ParamBlock()
    {
        var start = _text.IndexOf("param(", StringComparison.Ordinal);
        var end = _text.IndexOf("\n)\n", start, StringComparison.Ordinal);
        Assert.True(start > 0 && end > start, "no param( ... ) block");
        return _text[start..end];
    }
}
