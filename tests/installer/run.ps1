# Runs the Pester tests given (default: this folder) with Pester's report, and writes "PASSED FAILED SKIPPED"
# to -CountsFile for scripts/pester.sh, which prints the closing line. Exit code: 0 only when all passed.
param(
    [Parameter(Mandatory)] [string] $PesterModule,
    [Parameter(Mandatory)] [string] $ResultFile,
    [Parameter(Mandatory)] [string] $CountsFile,
    [Parameter(ValueFromRemainingArguments)] [string[]] $Path = @($PSScriptRoot)
)
$ErrorActionPreference = 'Stop'
Import-Module $PesterModule
$config = New-PesterConfiguration
$config.Run.Path = $Path
$config.Run.PassThru = $true
$config.Output.Verbosity = 'Detailed'
$config.Output.RenderMode = 'Plaintext'
$config.TestResult.Enabled = $true
$config.TestResult.OutputFormat = 'JUnitXml'
$config.TestResult.OutputPath = $ResultFile
$run = Invoke-Pester -Configuration $config
# A block or a file that failed outside its tests (a BeforeAll, a parse error) is a failure too.
$failed = $run.FailedCount + $run.FailedBlocksCount + $run.FailedContainersCount
$skipped = $run.SkippedCount + $run.NotRunCount
Set-Content -Path $CountsFile -Value "$($run.PassedCount) $failed $skipped"
if ($failed -gt 0 -or $run.Result -ne 'Passed') { exit 1 }
exit 0
