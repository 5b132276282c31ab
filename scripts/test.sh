#!/usr/bin/env bash
# THE test command: installs what the tests need (idempotently), builds, runs every test project.
# Usage: scripts/test.sh [extra dotnet test args, e.g. --filter FullyQualifiedName~Lisp]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

log() { printf '[test.sh] %s\n' "$*" >&2; }

# --- system packages the tests use (tshark decodes our packets, iproute2 builds namespaces, libvirt0 for the KVM watcher) ---
need=()
command -v tshark >/dev/null 2>&1 || need+=(tshark)
command -v ip >/dev/null 2>&1 || need+=(iproute2)
command -v arping >/dev/null 2>&1 || need+=(iputils-arping)
command -v ping >/dev/null 2>&1 || need+=(iputils-ping)
command -v sqlite3 >/dev/null 2>&1 || need+=(sqlite3)
# Native AOT links the native Map-Server with clang against zlib (NativeMapServerTests run the published executable).
command -v clang >/dev/null 2>&1 || need+=(clang)
[ -e /usr/include/zlib.h ] || need+=(zlib1g-dev)
command -v iptables >/dev/null 2>&1 || need+=(iptables)
# A locator killed on the lab's core bridge (RlocProbingTests): ebtables-nft, which Debian's iptables usually brings.
command -v ebtables >/dev/null 2>&1 || need+=(ebtables)
command -v ethtool >/dev/null 2>&1 || need+=(ethtool)
# libvirt's C library: the libvirt watcher's tests run its test driver in process (test:///default, no daemon).
ldconfig -p 2>/dev/null | grep -q 'libvirt\.so\.0 ' || need+=(libvirt0)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" -eq 0 ]; then
    log "installing: ${need[*]}"
    export DEBIAN_FRONTEND=noninteractive
    # wireshark-common asks whether non-root users may capture; answer before it asks.
    echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections 2>/dev/null || true
    if ! apt-get install -y --no-install-recommends "${need[@]}" >/tmp/lispmobility-apt.log 2>&1; then
      apt-get update >>/tmp/lispmobility-apt.log 2>&1
      apt-get install -y --no-install-recommends "${need[@]}" >>/tmp/lispmobility-apt.log 2>&1 \
        || { log "apt-get install failed, see /tmp/lispmobility-apt.log"; exit 1; }
    fi
  else
    log "not root: cannot install ${need[*]}; the tests that need them will say so"
  fi
fi

# --- vcsim-lab (VMware's vCenter simulator with REST), the vCenter peer of the watcher tests ---
vcsim_src="$root/../shared/tools/vcsim-lab"
if [ -z "${VCSIM_LAB_BIN:-}" ] && [ -x "$vcsim_src/build.sh" ]; then
  out="${VCSIM_LAB_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/vcsim-lab}/bin"
  mkdir -p "$out"
  if bin=$("$vcsim_src/build.sh" --out "$out" 2>/tmp/lispmobility-vcsim-build.log); then
    export VCSIM_LAB_BIN="$bin"
    log "vcsim-lab: $bin"
  else
    log "vcsim-lab build failed, see /tmp/lispmobility-vcsim-build.log"; exit 1
  fi
fi

export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1
log "building"
dotnet build LispMobility.sln -c Release -nologo -clp:ErrorsOnly -m:2
# The native (ahead-of-time compiled) Map-Server: its tests (NativeMapServerTests) run the published executable.
log "publishing the native Map-Server"
native="$root/artifacts/native-map-server"
dotnet publish src/LispMobility.MapServer -c Release -r linux-x64 -o "$native" -nologo -clp:ErrorsOnly
export LISPMOBILITY_NATIVE_MAP_SERVER="$native/lispmobility-map-server"

results="$root/artifacts/test-results"
rm -rf "$results"; mkdir -p "$results"
status=0
log "testing"
dotnet test LispMobility.sln -c Release --no-build -nologo --logger "trx" --results-directory "$results" \
  --logger "console;verbosity=normal" "$@" 2>&1 | tee "$results/console.log" || status=$?

# One plain closing line summed over every test project's TRX report.
read -r passed failed skipped < <(cat "$results"/*.trx 2>/dev/null | grep -oE '<Counters [^>]*>' \
  | awk '{ for (i = 1; i <= NF; i++) { split($i, kv, "=\""); gsub(/"/, "", kv[2]);
           if (kv[1] == "passed") p += kv[2]; if (kv[1] == "failed") f += kv[2]; if (kv[1] == "total") t += kv[2]; if (kv[1] == "executed") e += kv[2] } }
         END { printf "%d %d %d\n", p, f, t - e }')

# --- the Windows installer's Pester tests: scripts/pester.sh installs PowerShell and Pester, its counts are added ---
[ "${passed:-0}" -gt 0 ] || [ "$status" -ne 0 ] || { log "dotnet test ran no test"; status=1; }
log "testing the Windows installer (Pester)"
pester_status=0
bash "$root/scripts/pester.sh" 2>&1 | tee "$results/pester.log" || pester_status=$?
pester_counts=$(sed -nE 's/^pester: ([0-9]+) passed, ([0-9]+) failed, ([0-9]+) skipped$/\1 \2 \3/p' "$results/pester.log" | tail -n 1)
if [ -z "$pester_counts" ]; then log "scripts/pester.sh reported no counts"; pester_counts="0 1 0"; fi
read -r pester_passed pester_failed pester_skipped <<<"$pester_counts"
passed=$(( ${passed:-0} + pester_passed )); failed=$(( ${failed:-0} + pester_failed )); skipped=$(( ${skipped:-0} + pester_skipped ))
if [ "$pester_status" -ne 0 ] && [ "$status" -eq 0 ]; then status=$pester_status; fi

# --- coverage-guided fuzzing: every target for FUZZ_SECONDS (default 10) under afl++; a target with a crash or hang fails ---
log "fuzzing every target for ${FUZZ_SECONDS:-10} s (scripts/fuzz.sh)"
fuzz_status=0
bash "$root/scripts/fuzz.sh" all "${FUZZ_SECONDS:-10}" 2>&1 | tee "$results/fuzz.log" || fuzz_status=$?
fuzz_clean=$(grep -cE '^fuzz [a-z-]+: .* 0 crashes, 0 hangs$' "$results/fuzz.log" || true)
fuzz_ran=$(grep -cE '^fuzz [a-z-]+: ' "$results/fuzz.log" || true)
fuzz_targets=$(ls "$root/tests/LispMobility.Fuzz/seeds" | wc -l)
passed=$(( passed + fuzz_clean )); failed=$(( failed + fuzz_targets - fuzz_clean ))
if [ "$fuzz_ran" -ne "$fuzz_targets" ]; then log "fuzzing reported $fuzz_ran of $fuzz_targets targets"; fuzz_status=1; fi
if [ "$fuzz_status" -ne 0 ] && [ "$status" -eq 0 ]; then status=$fuzz_status; fi
# The names of failed tests, repeated here because a CI log often shows only its tail.
if [ "${failed:-0}" -gt 0 ]; then
  echo; echo "[test.sh] failed:"
  # Each with the first lines of its message: the tail is then enough to tell a flaky check from a broken one.
  if command -v python3 >/dev/null; then python3 - "$results" <<'PY' || true
import glob, sys, xml.etree.ElementTree as ET
ns = {"t": "http://microsoft.com/schemas/VisualStudio/TeamTest/2010"}
for trx in sorted(glob.glob(sys.argv[1] + "/*.trx")):
    for r in ET.parse(trx).getroot().iterfind(".//t:UnitTestResult[@outcome='Failed']", ns):
        print("  " + r.get("testName"))
        message = r.findtext("t:Output/t:ErrorInfo/t:Message", default="", namespaces=ns).strip().splitlines()
        for line in message[:3]:
            print("      " + line[:300])
PY
  else
    grep -ohE '<UnitTestResult [^>]*testName="[^"]*"[^>]*outcome="Failed"' "$results"/*.trx 2>/dev/null \
      | sed -E 's/.*testName="([^"]*)".*/  \1/' | sed 's/&quot;/"/g; s/&amp;/\&/g' || true
  fi
  grep -hE '^fuzz [a-z-]+: ' "$results/fuzz.log" 2>/dev/null | grep -vE ' 0 crashes, 0 hangs$' | sed 's/^/  /' || true
  [ "$pester_failed" -eq 0 ] || echo "  Pester: $pester_failed (see $results/pester.log)"
fi
echo
echo "tests: ${passed:-0} passed, ${failed:-0} failed, ${skipped:-0} skipped"
if [ "${passed:-0}" -eq 0 ] && [ "$status" -eq 0 ]; then echo "[test.sh] no test ran" >&2; exit 1; fi
exit $status
