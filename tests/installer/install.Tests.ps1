# Pester 6 tests of installer/windows/install.ps1, run on Linux by scripts/pester.sh.
#
# Nothing here touches the machine: the Windows commands the installer calls (services, sc.exe, icacls.exe, the
# Event Log) are mocked, and every install goes into a fresh folder under TestDrive from a fake publish output
# (-FromPublish), so nothing is published either. Pester can only mock a command that exists, so the Windows-only
# ones get a stub first; a stub throws, so a call that a test forgot to mock fails instead of passing quietly.

BeforeAll {
    $Installer = (Resolve-Path (Join-Path $PSScriptRoot '../../installer/windows/install.ps1')).Path
    $RepoRoot = (Resolve-Path (Join-Path $PSScriptRoot '../..')).Path
    $ServiceName = 'LispMobility'
    $AclGrants = @('/inheritance:r', '/grant:r', '*S-1-5-18:(F)', '*S-1-5-32-544:(F)')

    function Get-Service { [CmdletBinding()] param([string] $Name) throw 'stub: mock Get-Service' }
    function Stop-Service { [CmdletBinding()] param([string] $Name, [switch] $Force) throw 'stub: mock Stop-Service' }
    function Start-Service { [CmdletBinding()] param([string] $Name) throw 'stub: mock Start-Service' }
    function New-Service {
        [CmdletBinding()]
        param([string] $Name, [string] $BinaryPathName, [string] $DisplayName, [string] $Description, [string] $StartupType)
        throw 'stub: mock New-Service'
    }
    function sc.exe { param([Parameter(ValueFromRemainingArguments = $true)] [string[]] $Arguments) throw 'stub: mock sc.exe' }
    function icacls.exe { param([Parameter(ValueFromRemainingArguments = $true)] [string[]] $Arguments) throw 'stub: mock icacls.exe' }

    # Dot-sourced, the installer only defines its functions (Test-Administrator, Test-EventSource, New-EventSource,
    # Remove-EventSource are mocked below, so they must exist here). The stubs above throw if it did more.
    . $Installer -InstallDir (Join-Path $TestDrive 'dot-sourced-program') -DataDir (Join-Path $TestDrive 'dot-sourced-data')

    function New-FakeService([string] $Name) {
        [pscustomobject]@{ Name = $Name; Status = 'Stopped' } |
            Add-Member -MemberType ScriptMethod -Name WaitForStatus -Value { param($status, $timeout) } -PassThru
    }

    # A folder of its own for each test: program, data, and a fake publish output with lispmobility.exe.
    function New-Layout {
        $root = Join-Path $TestDrive ([Guid]::NewGuid().ToString('N'))
        $layout = [pscustomobject]@{
            Program = Join-Path $root 'Program Files/LispMobility'
            Data    = Join-Path $root 'ProgramData/LispMobility'
            Publish = Join-Path $root 'publish'
        }
        New-Item -ItemType Directory -Path (Join-Path $layout.Publish 'runtimes') -Force | Out-Null
        Set-Content -Path (Join-Path $layout.Publish 'lispmobility.exe') -Value 'fake agent v1'
        Set-Content -Path (Join-Path $layout.Publish 'lispmobility.dll') -Value 'fake library v1'
        Set-Content -Path (Join-Path $layout.Publish 'runtimes/native.txt') -Value 'fake native'
        $layout
    }

    function Invoke-Installer([pscustomobject] $Layout, [hashtable] $Options = @{}, [string] $Script = $Installer) {
        & $Script -InstallDir $Layout.Program -DataDir $Layout.Data -FromPublish $Layout.Publish @Options 6>$null
    }

    function Get-ServicePath([pscustomobject] $Layout) {
        "`"$(Join-Path $Layout.Program 'lispmobility.exe')`" run --config `"$(Join-Path $Layout.Data 'appsettings.json')`""
    }
}

Describe 'install.ps1' {
    BeforeEach {
        # What the mocks did, as the tests see it: services that exist, Event Log sources, every icacls and sc.exe call.
        $state = @{
            Services = @{}
            Sources  = @{}
            Icacls   = [System.Collections.Generic.List[object]]::new()
            Sc       = [System.Collections.Generic.List[string]]::new()
            ScExit   = @{}
        }
        Mock Test-Administrator { $true }
        Mock Get-Service { if ($state.Services.ContainsKey($Name)) { $state.Services[$Name] } }
        Mock New-Service { $state.Services[$Name] = New-FakeService $Name }
        Mock Stop-Service { $state.Services[$Name].Status = 'Stopped' }
        Mock Start-Service { $state.Services[$Name].Status = 'Running' }
        Mock sc.exe {
            $state.Sc.Add($Arguments -join '|')
            if ($Arguments[0] -eq 'delete') { $state.Services.Remove($Arguments[1]) }
            $global:LASTEXITCODE = if ($state.ScExit.ContainsKey($Arguments[0])) { $state.ScExit[$Arguments[0]] } else { 0 }
        }
        Mock icacls.exe {
            $state.Icacls.Add([pscustomobject]@{
                    Path = $Arguments[0]; Grants = @($Arguments | Select-Object -Skip 1); LengthThen = (Get-Item -LiteralPath $Arguments[0]).Length
                })
            $global:LASTEXITCODE = 0
        }
        Mock Test-EventSource { $state.Sources.ContainsKey('LispMobility') }
        Mock New-EventSource { $state.Sources['LispMobility'] = $true }
        Mock Remove-EventSource { $state.Sources.Remove('LispMobility') }
    }

    Context 'the script' {
        It 'parses without errors' {
            $tokens = $null; $errors = $null
            $ast = [System.Management.Automation.Language.Parser]::ParseFile($Installer, [ref] $tokens, [ref] $errors)
            $errors | Should -BeNullOrEmpty
            $ast.ParamBlock | Should -Not -BeNullOrEmpty
        }

        It 'checks for Administrator rights itself, with no #Requires that would stop it before the tests can mock the check' {
            $ast = [System.Management.Automation.Language.Parser]::ParseFile($Installer, [ref] $null, [ref] $null)
            $ast.ScriptRequirements | Should -BeNullOrEmpty
        }

        It 'refuses to run without Administrator rights, and changes nothing' {
            Mock Test-Administrator { $false }
            $layout = New-Layout
            { Invoke-Installer $layout } | Should -Throw '*Administrator rights*'
            $layout.Program | Should -Not -Exist
            $layout.Data | Should -Not -Exist
            Should -Invoke New-Service -Times 0 -Exactly
            Should -Invoke sc.exe -Times 0 -Exactly
        }

        It 'does nothing but define its functions when dot-sourced' {
            $layout = New-Layout
            & { . $Installer -InstallDir $layout.Program -DataDir $layout.Data -FromPublish $layout.Publish 6>$null }
            $layout.Program | Should -Not -Exist
            $layout.Data | Should -Not -Exist
            Should -Invoke Test-Administrator -Times 0 -Exactly
            Should -Invoke New-Service -Times 0 -Exactly
            Should -Invoke Get-Service -Times 0 -Exactly
        }
    }

    Context 'parameters and defaults' {
        It 'declares exactly these parameters, with these types' {
            $ast = [System.Management.Automation.Language.Parser]::ParseFile($Installer, [ref] $null, [ref] $null)
            $declared = $ast.ParamBlock.Parameters | ForEach-Object { '{0}:{1}' -f $_.Name.VariablePath.UserPath, $_.StaticType.Name }
            $declared | Should -Be @(
                'InstallDir:String', 'DataDir:String', 'FromPublish:String',
                'SelfContained:SwitchParameter', 'NoStart:SwitchParameter', 'Uninstall:SwitchParameter', 'Purge:SwitchParameter')
        }

        It 'puts the program under %ProgramFiles% and the data under %ProgramData% by default' {
            $saved = $env:ProgramFiles, $env:ProgramData
            try {
                $env:ProgramFiles = Join-Path $TestDrive 'env-ProgramFiles'
                $env:ProgramData = Join-Path $TestDrive 'env-ProgramData'
                $seen = & {
                    . $Installer
                    @{
                        InstallDir = $InstallDir; DataDir = $DataDir; Exe = $Exe; Config = $Config; Token = $Token; LogDir = $LogDir
                        FromPublish = $FromPublish; Switches = @($SelfContained, $NoStart, $Uninstall, $Purge) | ForEach-Object { $_.IsPresent }
                    }
                }
                $seen.InstallDir | Should -Be (Join-Path $env:ProgramFiles 'LispMobility')
                $seen.DataDir | Should -Be (Join-Path $env:ProgramData 'LispMobility')
                $seen.Exe | Should -Be (Join-Path $env:ProgramFiles 'LispMobility/lispmobility.exe')
                $seen.Config | Should -Be (Join-Path $env:ProgramData 'LispMobility/appsettings.json')
                $seen.Token | Should -Be (Join-Path $env:ProgramData 'LispMobility/api-token')
                $seen.LogDir | Should -Be (Join-Path $env:ProgramData 'LispMobility/logs')
                $seen.FromPublish | Should -BeNullOrEmpty
                $seen.Switches | Should -Be @($false, $false, $false, $false)
            }
            finally { $env:ProgramFiles, $env:ProgramData = $saved }
        }

        It 'makes a relative -InstallDir and -DataDir absolute' {
            $layout = New-Layout
            Push-Location (Split-Path $layout.Publish)
            try {
                $seen = & { . $Installer -InstallDir 'prog' -DataDir 'data'; @{ InstallDir = $InstallDir; DataDir = $DataDir } }
            }
            finally { Pop-Location }
            $seen.InstallDir | Should -Be (Join-Path (Split-Path $layout.Publish) 'prog')
            $seen.DataDir | Should -Be (Join-Path (Split-Path $layout.Publish) 'data')
        }
    }

    Context 'a fresh install' {
        BeforeEach {
            $layout = New-Layout
            Invoke-Installer $layout
            $config = Join-Path $layout.Data 'appsettings.json'
            $token = Join-Path $layout.Data 'api-token'
        }

        It 'copies the publish output into -InstallDir' {
            Get-Content (Join-Path $layout.Program 'lispmobility.exe') | Should -Be 'fake agent v1'
            Get-Content (Join-Path $layout.Program 'lispmobility.dll') | Should -Be 'fake library v1'
            Get-Content (Join-Path $layout.Program 'runtimes/native.txt') | Should -Be 'fake native'
        }

        It 'creates the data and log folders' {
            $layout.Data | Should -Exist
            Join-Path $layout.Data 'logs' | Should -Exist
        }

        It 'writes the Windows example config, its paths set to the ones under -DataDir' {
            $written = Get-Content -Raw $config | ConvertFrom-Json
            $written.ManagementApi.TokenFile | Should -Be $token
            $written.Log.Directory | Should -Be (Join-Path $layout.Data 'logs')
            $written.Mobility.Database | Should -Be (Join-Path $layout.Data 'lispmobility.db')

            # Everything else is the example as it is.
            $example = Get-Content -Raw (Join-Path $RepoRoot 'config/appsettings.windows.example.json') | ConvertFrom-Json
            $example.ManagementApi.TokenFile = $written.ManagementApi.TokenFile
            $example.Log.Directory = $written.Log.Directory
            $example.Mobility.Database = $written.Mobility.Database
            ($written | ConvertTo-Json -Depth 32) | Should -Be ($example | ConvertTo-Json -Depth 32)
        }

        It 'writes a token of 32 random bytes, base64url without padding, on one line' {
            $text = [IO.File]::ReadAllText($token)
            $text | Should -Match '^[A-Za-z0-9_-]{43}\n$'
            $other = New-Layout
            Invoke-Installer $other
            [IO.File]::ReadAllText((Join-Path $other.Data 'api-token')) | Should -Not -Be $text
        }

        It 'restricts the config and the token to SYSTEM and Administrators, while they are still empty' {
            $state.Icacls.Count | Should -Be 2
            $state.Icacls[0].Path | Should -Be $config
            $state.Icacls[0].Grants | Should -Be $AclGrants
            $state.Icacls[0].LengthThen | Should -Be 0
            $state.Icacls[1].Path | Should -Be $token
            $state.Icacls[1].Grants | Should -Be $AclGrants
            $state.Icacls[1].LengthThen | Should -Be 0
            (Get-Item $config).Length | Should -BeGreaterThan 0
            (Get-Item $token).Length | Should -BeGreaterThan 0
        }

        It 'registers the service with New-Service: name, command line, automatic start' {
            $path = Get-ServicePath $layout
            Should -Invoke New-Service -Times 1 -Exactly -ParameterFilter {
                $Name -eq 'LispMobility' -and $BinaryPathName -eq $path -and $StartupType -eq 'Automatic' -and
                $DisplayName -eq 'LispMobility agent' -and $Description -like '*LISP*'
            }
            Should -Invoke New-Service -Times 1 -Exactly
        }

        It 'sets the failure actions with sc.exe: restart after 5 s, 5 s, 60 s, reset after a day, also on an error exit' {
            $state.Sc | Should -Be @(
                'failure|LispMobility|reset=|86400|actions=|restart/5000/restart/5000/restart/60000',
                'failureflag|LispMobility|1')
        }

        It 'creates the Event Log source' {
            Should -Invoke New-EventSource -Times 1 -Exactly
            $state.Sources.ContainsKey('LispMobility') | Should -BeTrue
        }

        It 'starts the service' {
            Should -Invoke Start-Service -Times 1 -Exactly -ParameterFilter { $Name -eq 'LispMobility' }
            $state.Services['LispMobility'].Status | Should -Be 'Running'
        }
    }

    Context 'install options and failures' {
        It 'does not start the service with -NoStart' {
            Invoke-Installer (New-Layout) @{ NoStart = $true }
            Should -Invoke New-Service -Times 1 -Exactly
            Should -Invoke Start-Service -Times 0 -Exactly
        }

        It 'does not create an Event Log source that exists' {
            $state.Sources['LispMobility'] = $true
            Invoke-Installer (New-Layout)
            Should -Invoke Test-EventSource -Times 1 -Exactly
            Should -Invoke New-EventSource -Times 0 -Exactly
        }

        It 'refuses a publish folder without lispmobility.exe, before it removes anything' {
            $layout = New-Layout
            Invoke-Installer $layout
            Remove-Item (Join-Path $layout.Publish 'lispmobility.exe')
            { Invoke-Installer $layout } | Should -Throw '*no lispmobility.exe*'
            Get-Content (Join-Path $layout.Program 'lispmobility.exe') | Should -Be 'fake agent v1'
        }

        It 'fails when sc.exe cannot set the failure actions' {
            $state.ScExit['failure'] = 1060
            { Invoke-Installer (New-Layout) } | Should -Throw '*sc.exe failure failed with exit code 1060*'
            Should -Invoke Start-Service -Times 0 -Exactly
        }

        It 'writes a minimal config naming the token and the logs when the example is not beside it' {
            $layout = New-Layout
            $copy = Join-Path $TestDrive ([Guid]::NewGuid().ToString('N') + '/installer/windows/install.ps1')
            New-Item -ItemType Directory -Path (Split-Path $copy) | Out-Null
            Copy-Item $Installer $copy
            Invoke-Installer $layout -Script $copy
            $written = Get-Content -Raw (Join-Path $layout.Data 'appsettings.json') | ConvertFrom-Json
            $written.ManagementApi.TokenFile | Should -Be (Join-Path $layout.Data 'api-token')
            $written.ManagementApi.BindAddress | Should -Be '127.0.0.1'
            $written.Log.Directory | Should -Be (Join-Path $layout.Data 'logs')
        }
    }

    Context 'running it twice' {
        BeforeEach {
            $layout = New-Layout
            Invoke-Installer $layout
            $config = Join-Path $layout.Data 'appsettings.json'
            $token = Join-Path $layout.Data 'api-token'
            # An operator's edit, which the second run must keep.
            Add-Content -Path $config -Value ' '
            $before = @{ Config = (Get-FileHash $config).Hash; Token = (Get-FileHash $token).Hash }
            # A new build to install, without one of the old files.
            Set-Content -Path (Join-Path $layout.Publish 'lispmobility.exe') -Value 'fake agent v2'
            Remove-Item (Join-Path $layout.Publish 'lispmobility.dll')
            $state.Sc.Clear(); $state.Icacls.Clear()
            Invoke-Installer $layout
        }

        It 'keeps the config and the token as they were' {
            (Get-FileHash $config).Hash | Should -Be $before.Config
            (Get-FileHash $token).Hash | Should -Be $before.Token
        }

        It 'applies the ACL to the kept config and token again' {
            $state.Icacls.Path | Should -Be @($config, $token)
            $state.Icacls | ForEach-Object { $_.Grants | Should -Be $AclGrants }
        }

        It 'updates the service with sc.exe config instead of registering it again' {
            Should -Invoke New-Service -Times 1 -Exactly
            $state.Services.Count | Should -Be 1
            $state.Sc[0] | Should -Be "config|LispMobility|binPath=|$(Get-ServicePath $layout)|start=|auto"
            $state.Sc | Select-Object -Skip 1 | Should -Be @(
                'failure|LispMobility|reset=|86400|actions=|restart/5000/restart/5000/restart/60000',
                'failureflag|LispMobility|1')
        }

        It 'stops the running service before it replaces the program, and starts it again' {
            Should -Invoke Stop-Service -Times 1 -Exactly -ParameterFilter { $Name -eq 'LispMobility' -and $Force }
            Should -Invoke Start-Service -Times 2 -Exactly
        }

        It 'replaces the program' {
            Get-Content (Join-Path $layout.Program 'lispmobility.exe') | Should -Be 'fake agent v2'
            Join-Path $layout.Program 'lispmobility.dll' | Should -Not -Exist
        }

        It 'does not create the Event Log source again' {
            Should -Invoke New-EventSource -Times 1 -Exactly
        }
    }

    Context 'the service command line for sc.exe config' {
        It 'escapes its quotes where PowerShell passes them to programs as they are (Legacy argument passing)' {
            $layout = New-Layout
            Invoke-Installer $layout
            $state.Sc.Clear()
            $PSNativeCommandArgumentPassing = 'Legacy'
            Invoke-Installer $layout
            $escaped = (Get-ServicePath $layout).Replace('"', '\"')
            $state.Sc[0] | Should -Be "config|LispMobility|binPath=|$escaped|start=|auto"
        }
    }

    Context 'uninstall' {
        BeforeEach {
            $layout = New-Layout
            Invoke-Installer $layout
            Set-Content -Path (Join-Path $layout.Data 'logs/agent.log') -Value 'a log line'
            $state.Sc.Clear()
        }

        It '-Uninstall stops and deletes the service and removes the program' {
            Invoke-Installer $layout @{ Uninstall = $true }
            Should -Invoke Stop-Service -Times 1 -Exactly -ParameterFilter { $Name -eq 'LispMobility' }
            $state.Sc | Should -Be @('delete|LispMobility')
            $state.Services.Count | Should -Be 0
            $layout.Program | Should -Not -Exist
        }

        It '-Uninstall keeps the config, the token, the logs and the Event Log source' {
            Invoke-Installer $layout @{ Uninstall = $true }
            Join-Path $layout.Data 'appsettings.json' | Should -Exist
            Join-Path $layout.Data 'api-token' | Should -Exist
            Join-Path $layout.Data 'logs/agent.log' | Should -Exist
            Should -Invoke Remove-EventSource -Times 0 -Exactly
        }

        It '-Uninstall -Purge also removes the data folder and the Event Log source' {
            Invoke-Installer $layout @{ Uninstall = $true; Purge = $true }
            $state.Sc | Should -Be @('delete|LispMobility')
            $layout.Program | Should -Not -Exist
            $layout.Data | Should -Not -Exist
            Should -Invoke Remove-EventSource -Times 1 -Exactly
            $state.Sources.Count | Should -Be 0
        }

        It 'uninstalling twice does nothing the second time, and does not fail' {
            Invoke-Installer $layout @{ Uninstall = $true; Purge = $true }
            $state.Sc.Clear()
            Invoke-Installer $layout @{ Uninstall = $true; Purge = $true }
            $state.Sc.Count | Should -Be 0
            Should -Invoke Remove-EventSource -Times 1 -Exactly
        }

        It 'fails when sc.exe cannot delete the service' {
            $state.ScExit['delete'] = 1072
            { Invoke-Installer $layout @{ Uninstall = $true } } | Should -Throw '*sc.exe delete failed with exit code 1072*'
        }
    }
}
