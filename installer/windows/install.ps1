<#
.SYNOPSIS
    Installs (or removes) the lispmobility agent as a Windows service.

.DESCRIPTION
    Publishes the agent (or takes an existing publish output), copies it to -InstallDir, writes
    %ProgramData%\LispMobility\appsettings.json (from config\appsettings.windows.example.json, its paths set to
    -DataDir) and the management API token file, both readable by SYSTEM and Administrators only, registers the
    Event Log source "LispMobility" and the service "LispMobility" (automatic start, restart on failure).
    Safe to run again: the program is replaced, the service updated, the config and the token are never
    overwritten (their ACL is applied again).

    Dot-sourced (`. .\install.ps1`, as tests/installer/install.Tests.ps1 does) it only defines its functions.

.EXAMPLE
    .\install.ps1                                  # publish from this repository and install
    .\install.ps1 -FromPublish C:\build\publish    # install a publish output made elsewhere
    .\install.ps1 -Uninstall                       # remove program and service, keep config, token, logs
    .\install.ps1 -Uninstall -Purge                # remove those too, and the Event Log source
#>
# Administrator rights are checked by Assert-Administrator when the script runs, not by
# "#Requires -RunAsAdministrator", so that the tests can dot-source the script and mock the check.
[CmdletBinding()]
param(
    # Where the program goes.
    [string] $InstallDir = (Join-Path $env:ProgramFiles 'LispMobility'),
    # Configuration, token, state and logs.
    [string] $DataDir = (Join-Path $env:ProgramData 'LispMobility'),
    # An existing `dotnet publish` output of LispMobility.Agent; without it this script publishes.
    [string] $FromPublish,
    # Publish with the .NET runtime inside (default: framework-dependent, needs the .NET 10 runtime).
    [switch] $SelfContained,
    # Register the service but do not start it.
    [switch] $NoStart,
    [switch] $Uninstall,
    # With -Uninstall: also remove configuration, token, state, logs and the Event Log source.
    [switch] $Purge
)

Set-StrictMode -Version Latest
$ErrorActionPreference = 'Stop'

# Full paths, so that .NET calls ([IO.File]) and the service's command line mean what PowerShell means.
$InstallDir = $ExecutionContext.SessionState.Path.GetUnresolvedProviderPathFromPSPath($InstallDir)
$DataDir = $ExecutionContext.SessionState.Path.GetUnresolvedProviderPathFromPSPath($DataDir)
$ServiceName = 'LispMobility'
$EventSource = 'LispMobility'
$Exe = Join-Path $InstallDir 'lispmobility.exe'
$Config = Join-Path $DataDir 'appsettings.json'
$Token = Join-Path $DataDir 'api-token'
$LogDir = Join-Path $DataDir 'logs'
$Database = Join-Path $DataDir 'lispmobility.db'

function Say([string] $Message) { Write-Host "install.ps1: $Message" }

function Test-Administrator {
    $identity = [Security.Principal.WindowsIdentity]::GetCurrent()
    (New-Object Security.Principal.WindowsPrincipal($identity)).IsInRole([Security.Principal.WindowsBuiltInRole]::Administrator)
}

function Assert-Administrator {
    if (-not (Test-Administrator)) { throw 'install.ps1 needs Administrator rights: run it from an elevated PowerShell' }
}

function Stop-AgentService {
    $service = Get-Service -Name $ServiceName -ErrorAction SilentlyContinue
    if ($service -and $service.Status -ne 'Stopped') {
        Stop-Service -Name $ServiceName -Force
        $service.WaitForStatus('Stopped', [TimeSpan]::FromSeconds(60))
    }
}

function Invoke-Publish([string] $Output) {
    $repo = Resolve-Path (Join-Path $PSScriptRoot '..\..')
    $project = Join-Path $repo 'src\LispMobility.Agent\LispMobility.Agent.csproj'
    if (-not (Test-Path $project)) { throw "no ${project}: run from the repository, or pass -FromPublish DIR" }
    if (-not (Get-Command dotnet -ErrorAction SilentlyContinue)) { throw 'dotnet SDK not found: install it, or pass -FromPublish DIR' }
    $rid = if ([Environment]::Is64BitOperatingSystem) { 'win-x64' } else { 'win-x86' }
    $sc = if ($SelfContained) { 'true' } else { 'false' }
    & dotnet publish $project -c Release -o $Output -r $rid --self-contained $sc -nologo
    if ($LASTEXITCODE -ne 0) { throw "dotnet publish failed with exit code $LASTEXITCODE" }
}

# Only SYSTEM (S-1-5-18) and Administrators (S-1-5-32-544), by SID so a localised Windows works too;
# inheritance removed so nothing granted on the folder reaches the file.
function Protect-File([string] $Path) {
    & icacls.exe $Path /inheritance:r /grant:r '*S-1-5-18:(F)' '*S-1-5-32-544:(F)' | Out-Null
    if ($LASTEXITCODE -ne 0) { throw "icacls on $Path failed with exit code $LASTEXITCODE" }
}

function Install-Program {
    $source = $FromPublish
    $staging = $null
    if (-not $source) {
        $staging = Join-Path ([IO.Path]::GetTempPath()) ("lispmobility-publish-" + [Guid]::NewGuid().ToString('N'))
        Invoke-Publish $staging
        $source = $staging
    }
    try {
        if (-not (Test-Path (Join-Path $source 'lispmobility.exe'))) {
            throw "no lispmobility.exe in $source (is it a dotnet publish output of LispMobility.Agent for Windows?)"
        }
        Stop-AgentService
        if (Test-Path $InstallDir) { Remove-Item -Recurse -Force $InstallDir }
        New-Item -ItemType Directory -Force -Path $InstallDir | Out-Null
        Copy-Item -Recurse -Force -Path (Join-Path $source '*') -Destination $InstallDir
        Say "installed $InstallDir from $source"
    }
    finally {
        if ($staging -and (Test-Path $staging)) { Remove-Item -Recurse -Force $staging }
    }
}

# The text of a JSON string, without its quotes.
function ConvertTo-JsonText([string] $Value) { $Value.Replace('\', '\\').Replace('"', '\"') }

# The Windows example config names the default paths under C:\ProgramData\LispMobility; the installed copy names
# the ones this install uses (under -DataDir): the token file it writes, the log directory, the database.
function Get-ConfigText {
    $example = [IO.Path]::Combine($PSScriptRoot, '..', '..', 'config', 'appsettings.windows.example.json')
    if (Test-Path -LiteralPath $example) {
        $text = [IO.File]::ReadAllText($example)
        $default = 'C:\ProgramData\LispMobility'
        $paths = [ordered]@{ "$default\api-token" = $Token; "$default\logs" = $LogDir; "$default\lispmobility.db" = $Database }
        foreach ($path in $paths.Keys) {
            $text = $text.Replace('"' + (ConvertTo-JsonText $path) + '"', '"' + (ConvertTo-JsonText $paths[$path]) + '"')
        }
        return $text
    }
    $settings = [ordered]@{
        Log           = [ordered]@{ MinimumLevel = 'Information'; Directory = $LogDir }
        ManagementApi = [ordered]@{ BindAddress = '127.0.0.1'; Port = 4380; TokenFile = $Token }
    }
    return ($settings | ConvertTo-Json -Depth 4)
}

function Write-Config {
    New-Item -ItemType Directory -Force -Path $DataDir, $LogDir | Out-Null
    if (Test-Path $Config) { Protect-File $Config; Say "keeping existing $Config"; return }
    # The config holds the sites' keys: like the token, restricted while still empty, then written.
    $text = Get-ConfigText
    New-Item -ItemType File -Path $Config | Out-Null
    Protect-File $Config
    [IO.File]::WriteAllText($Config, $text, (New-Object System.Text.UTF8Encoding($false)))
    Say "wrote $Config (SYSTEM and Administrators only)"
}

function Write-Token {
    if (Test-Path $Token) {
        Protect-File $Token
        Say "keeping existing $Token"
        return
    }
    # 32 random bytes, base64url without padding: the format the agent's ApiToken reads.
    $bytes = New-Object byte[] 32
    $rng = [System.Security.Cryptography.RandomNumberGenerator]::Create()
    try { $rng.GetBytes($bytes) } finally { $rng.Dispose() }
    $value = [Convert]::ToBase64String($bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_')
    # Restrict the empty file first, then write: the token is never readable by anyone else.
    New-Item -ItemType File -Path $Token | Out-Null
    Protect-File $Token
    [IO.File]::WriteAllText($Token, "$value`n", (New-Object System.Text.UTF8Encoding($false)))
    Say "created $Token (SYSTEM and Administrators only)"
}

# The Event Log calls, each in a function of its own so that the tests can mock them.
function Test-EventSource { [System.Diagnostics.EventLog]::SourceExists($EventSource) }
function New-EventSource { [System.Diagnostics.EventLog]::CreateEventSource($EventSource, 'Application') }
function Remove-EventSource { [System.Diagnostics.EventLog]::DeleteEventSource($EventSource) }

function Register-EventSource {
    if (-not (Test-EventSource)) {
        New-EventSource
        Say "registered Event Log source $EventSource"
    }
}

function Unregister-EventSource {
    if (Test-EventSource) {
        Remove-EventSource
        Say "removed Event Log source $EventSource"
    }
}

# Windows PowerShell 5.1 and PowerShell before 7.3 (or with $PSNativeCommandArgumentPassing = 'Legacy') pass the
# double quotes inside an argument to a program as they are, so sc.exe would split the quoted binPath: escape them there.
function ConvertTo-NativeArgument([string] $Value) {
    $version = $PSVersionTable.PSVersion
    $legacy = $version.Major -lt 7 -or ($version.Major -eq 7 -and $version.Minor -lt 3) -or
        ("$(Get-Variable -Name PSNativeCommandArgumentPassing -ValueOnly -ErrorAction SilentlyContinue)" -eq 'Legacy')
    if ($legacy) { $Value.Replace('"', '\"') } else { $Value }
}

function Register-AgentService {
    $binPath = "`"$Exe`" run --config `"$Config`""
    if (Get-Service -Name $ServiceName -ErrorAction SilentlyContinue) {
        & sc.exe config $ServiceName binPath= (ConvertTo-NativeArgument $binPath) start= auto | Out-Null
        if ($LASTEXITCODE -ne 0) { throw "sc.exe config failed with exit code $LASTEXITCODE" }
        Say "updated service $ServiceName"
    }
    else {
        New-Service -Name $ServiceName -BinaryPathName $binPath -DisplayName 'LispMobility agent' `
            -Description 'Makes the data-center network follow moved VMs using LISP.' -StartupType Automatic | Out-Null
        Say "registered service $ServiceName"
    }
    # Restart after 5 s, 5 s, then 60 s; forget failures after a day. failureflag 1: also when it stops with an error code.
    & sc.exe failure $ServiceName reset= 86400 actions= restart/5000/restart/5000/restart/60000 | Out-Null
    if ($LASTEXITCODE -ne 0) { throw "sc.exe failure failed with exit code $LASTEXITCODE" }
    & sc.exe failureflag $ServiceName 1 | Out-Null
}

function Uninstall-Agent {
    Stop-AgentService
    if (Get-Service -Name $ServiceName -ErrorAction SilentlyContinue) {
        & sc.exe delete $ServiceName | Out-Null
        if ($LASTEXITCODE -ne 0) { throw "sc.exe delete failed with exit code $LASTEXITCODE" }
    }
    if (Test-Path $InstallDir) { Remove-Item -Recurse -Force $InstallDir }
    if ($Purge) {
        if (Test-Path $DataDir) { Remove-Item -Recurse -Force $DataDir }
        Unregister-EventSource
        Say "removed $ServiceName with its configuration, token, logs and Event Log source"
    }
    else {
        Say "removed $ServiceName; kept $DataDir (use -Purge to remove it)"
    }
}

function Install-Agent {
    Install-Program
    Write-Config
    Write-Token
    Register-EventSource
    Register-AgentService
    if (-not $NoStart) { Start-Service -Name $ServiceName; Say "started $ServiceName" }
    Say 'done'
}

if ($MyInvocation.InvocationName -ne '.') {
    Assert-Administrator
    if ($Uninstall) { Uninstall-Agent } else { Install-Agent }
}
