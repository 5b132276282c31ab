#!/usr/bin/env bash
# Runs the Pester tests of the Windows installer (tests/installer/*.Tests.ps1) on this machine.
# Installs, once, what they need into a cache folder: PowerShell 7.6.10 (the `PowerShell` dotnet tool; without a
# version it takes 7.7.0, which fails) and Pester 6.2.0 (a NuGet package, downloaded by restoring
# tests/installer/pester-download, which is never built). Later runs reuse both.
# Results: artifacts/pester/results.xml (JUnit). Closes with one line: "pester: N passed, N failed, N skipped";
# exits non-zero when a test failed, none ran, or the tools could not be installed.
# Usage: scripts/pester.sh [more tests/installer paths or files to run instead of the whole folder]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

readonly PWSH_VERSION=7.6.10
readonly PESTER_VERSION=6.2.0
tools=${LISPMOBILITY_TOOLS:-${XDG_CACHE_HOME:-$HOME/.cache}/lispmobility-tools}
pwsh_dir=$tools/pwsh-$PWSH_VERSION
packages=$tools/nuget
pester=$packages/pester/$PESTER_VERSION/tools/Pester.psd1

log() { printf '[pester.sh] %s\n' "$*" >&2; }
fail() { log "$*"; echo "pester: 0 passed, 1 failed, 0 skipped"; exit 1; }

export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1 POWERSHELL_TELEMETRY_OPTOUT=1
mkdir -p "$tools"

if [ "$("$pwsh_dir/pwsh" -NoProfile -NonInteractive -Command '$PSVersionTable.PSVersion.ToString()' 2>/dev/null)" != "$PWSH_VERSION" ]; then
  log "installing PowerShell $PWSH_VERSION into $pwsh_dir"
  rm -rf "$pwsh_dir"
  dotnet tool install --tool-path "$pwsh_dir" PowerShell --version "$PWSH_VERSION" >"$tools/pwsh-install.log" 2>&1 \
    || fail "installing PowerShell $PWSH_VERSION failed, see $tools/pwsh-install.log"
  [ "$("$pwsh_dir/pwsh" -NoProfile -NonInteractive -Command '$PSVersionTable.PSVersion.ToString()' 2>/dev/null)" = "$PWSH_VERSION" ] \
    || fail "$pwsh_dir/pwsh does not run or is not PowerShell $PWSH_VERSION"
fi

if [ ! -f "$pester" ]; then
  log "downloading Pester $PESTER_VERSION into $packages"
  # A restore only (no build); its obj/ goes to the cache, not into the work tree.
  dotnet restore tests/installer/pester-download/pester-download.csproj --packages "$packages" \
    -p:BaseIntermediateOutputPath="$tools/pester-download-obj/" -nologo >"$tools/pester-download.log" 2>&1 \
    || fail "downloading Pester $PESTER_VERSION failed, see $tools/pester-download.log"
  [ -f "$pester" ] || fail "the Pester package has no $pester"
fi

results="$root/artifacts/pester"
rm -rf "$results"; mkdir -p "$results"
paths=("$@"); [ ${#paths[@]} -gt 0 ] || paths=("$root/tests/installer")

set +e
"$pwsh_dir/pwsh" -NoProfile -NonInteractive -File tests/installer/run.ps1 -PesterModule "$pester" \
  -ResultFile "$results/results.xml" -CountsFile "$results/counts.txt" "${paths[@]}" 2>&1 | tee "$results/output.log"
pwsh_status=${PIPESTATUS[0]}
set -e

read -r passed failed skipped <"$results/counts.txt" 2>/dev/null || fail "PowerShell exited with $pwsh_status without counting the tests"
status=0
if [ "$pwsh_status" -ne 0 ] || [ "$failed" -ne 0 ]; then status=1; fi
if [ "$passed" -eq 0 ]; then log "no test ran"; status=1; fi
echo "pester: $passed passed, $failed failed, $skipped skipped"
exit $status
