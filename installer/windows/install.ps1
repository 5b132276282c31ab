<#
.SYNOPSIS
    Installs (or removes) the lispmobility agent as a Windows service.

.DESCRIPTION
    Publishes the agent (or takes an existing publish output), copies it to -InstallDir, writes
    %ProgramData%\LispMobility\appsettings.json and the management API token file (readable by SYSTEM and
    Administrators only), registers the Event Log source "LispMobility" and the service "LispMobility"
    (automatic start, restart on failure). Safe to run again: the program is replaced, the service updated,
    the config and the token are never overwritten.

.EXAMPLE
    .\install.ps1                                  # publish from this repository and install
    .\install.ps1 -FromPublish C:\build\publish    # install a publish output made elsewhere
    .\install.ps1 -Uninstall                       # remove program and service, keep config, token, logs
    .\install.ps1 -Uninstall -Purge                # remove those too, and the Event Log source
#>
#Requires -RunAsAdministrator
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

$ServiceName = 'LispMobility'
$EventSource = 'LispMobility'
$Exe = Join-Path $InstallDir 'lispmobility.exe'
$Config = Join-Path $DataDir 'appsettings.json'
$Token = Join-Path $DataDir 'api-token'
$LogDir = Join-Path $DataDir 'logs'

function Say([string] $Message) { Write-Host "install.ps1: $Message" }

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

function Write-Config {
    New-Item -ItemType Directory -Force -Path $DataDir, $LogDir | Out-Null
    if (Test-Path $Config) { Say "keeping existing $Config"; return }
    $example = Join-Path $PSScriptRoot '..\..\config\appsettings.example.json'
    if (Test-Path $example) {
        Copy-Item $example $Config
    }
    else {
        $settings = [ordered]@{
            Log           = [ordered]@{ MinimumLevel = 'Information'; Directory = $LogDir }
            ManagementApi = [ordered]@{ BindAddress = '127.0.0.1'; Port = 4380; TokenFile = $Token }
        }
        $settings | ConvertTo-Json -Depth 4 | Set-Content -Path $Config -Encoding UTF8
    }
    Say "wrote $Config"
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

function Register-EventSource {
    if (-not [System.Diagnostics.EventLog]::SourceExists($EventSource)) {
        [System.Diagnostics.EventLog]::CreateEventSource($EventSource, 'Application')
        Say "registered Event Log source $EventSource"
    }
}

function Register-AgentService {
    $binPath = "`"$Exe`" run --config `"$Config`""
    if (Get-Service -Name $ServiceName -ErrorAction SilentlyContinue) {
        & sc.exe config $ServiceName binPath= $binPath start= auto | Out-Null
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
        if ([System.Diagnostics.EventLog]::SourceExists($EventSource)) { [System.Diagnostics.EventLog]::DeleteEventSource($EventSource) }
        Say "removed $ServiceName with its configuration, token, logs and Event Log source"
    }
    else {
        Say "removed $ServiceName; kept $DataDir (use -Purge to remove it)"
    }
}

if ($Uninstall) {
    Uninstall-Agent
}
else {
    Install-Program
    Write-Config
    Write-Token
    Register-EventSource
    Register-AgentService
    if (-not $NoStart) { Start-Service -Name $ServiceName; Say "started $ServiceName" }
    Say 'done'
}
