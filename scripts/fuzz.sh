#!/usr/bin/env bash
# Coverage-guided fuzzing with afl++ and SharpFuzz.
#   scripts/fuzz.sh TARGET SECONDS     one target (scripts/fuzz.sh list names them)
#   scripts/fuzz.sh all SECONDS        every target in turn (what scripts/test.sh runs, briefly)
# Installs afl++ (Debian) and the SharpFuzz.CommandLine tool when missing, publishes tests/LispMobility.Fuzz, instruments
# the product assemblies once per build, and runs afl-fuzz from the seeds in tests/LispMobility.Fuzz/seeds/TARGET (plus the
# regression inputs). A crash or hang is copied to artifacts/fuzz/found/TARGET and fails the run: add it to
# tests/LispMobility.Fuzz/regressions/TARGET, where LispMobility.Fuzz.Tests replays it on every test run.
# Last line per target: "fuzz TARGET: N execs (R/s), P paths, C crashes, H hangs". FUZZ_KEEP=1 keeps the previous queue.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
log() { printf '[fuzz.sh] %s\n' "$*" >&2; }

target=${1:?usage: scripts/fuzz.sh TARGET|all|list SECONDS}
seconds=${2:-60}
fuzz_dir="$root/tests/LispMobility.Fuzz"
work="$root/artifacts/fuzz"
pub="$work/publish"
tools="${XDG_CACHE_HOME:-$HOME/.cache}/lispmobility-tools"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1

if ! command -v afl-fuzz >/dev/null 2>&1; then
  [ "$(id -u)" -eq 0 ] || { log "afl-fuzz is missing and only root can install it (apt-get install afl++)"; exit 1; }
  log "installing afl++"
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y --no-install-recommends afl++ >/tmp/lispmobility-afl.log 2>&1 \
    || { apt-get update >>/tmp/lispmobility-afl.log 2>&1 && apt-get install -y --no-install-recommends afl++ >>/tmp/lispmobility-afl.log 2>&1; } \
    || { log "apt-get install afl++ failed, see /tmp/lispmobility-afl.log"; exit 1; }
fi
if [ ! -x "$tools/sharpfuzz" ]; then
  log "installing SharpFuzz.CommandLine 2.3.0"
  dotnet tool install --tool-path "$tools" SharpFuzz.CommandLine --version 2.3.0 >/dev/null
fi

mkdir -p "$work"
# Two campaigns at once (one per core) share the publish: one builds and instruments it while the other waits.
exec 9>"$work/.publish.lock"
flock 9
dotnet publish "$fuzz_dir/LispMobility.Fuzz.csproj" -c Release -o "$pub" -nologo -clp:ErrorsOnly >/dev/null
# Instrument each product assembly once per build: SharpFuzz refuses an assembly it already instrumented.
for dll in LispMobility.Lisp LispMobility.MappingSystem LispMobility.Xtr LispMobility.Platform; do
  file="$pub/$dll.dll"; stamp="$pub/.$dll.instrumented"
  if [ ! -f "$stamp" ] || [ "$(sha256sum "$file" | cut -d' ' -f1)" != "$(cat "$stamp")" ]; then
    "$tools/sharpfuzz" "$file" >/dev/null
    sha256sum "$file" | cut -d' ' -f1 >"$stamp"
  fi
done
flock -u 9

targets=$(dotnet "$pub/lispmobility-fuzz.dll" --list)
if [ "$target" = list ]; then echo "$targets"; exit 0; fi
if [ "$target" = all ]; then set -- $targets; else set -- "$target"; fi

export AFL_SKIP_BIN_CHECK=1 AFL_NO_AFFINITY=1 AFL_NO_UI=1 AFL_SKIP_CPUFREQ=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 AFL_QUIET=1
failed=0
for t in "$@"; do
  echo "$targets" | grep -qx "$t" || { log "no target $t (scripts/fuzz.sh list)"; exit 2; }
  in="$work/in/$t"; out="$work/out/$t"
  rm -rf "$in"; mkdir -p "$in"
  cp "$fuzz_dir/seeds/$t"/* "$in"/
  if [ -d "$fuzz_dir/regressions/$t" ]; then cp "$fuzz_dir/regressions/$t"/* "$in"/ 2>/dev/null || true; fi
  [ "${FUZZ_KEEP:-0}" = 1 ] || rm -rf "$out"
  mkdir -p "$work/out"
  # -t: a hang is an input that takes over 2 s (startup is paid once, before the first input); -V: stop after SECONDS.
  afl-fuzz -i "$in" -o "$out" -V "$seconds" -t 2000 -m none -- dotnet "$pub/lispmobility-fuzz.dll" "$t" >"$work/$t.log" 2>&1 \
    || { log "afl-fuzz failed for $t, see $work/$t.log"; tail -5 "$work/$t.log" >&2; failed=$((failed + 1)); continue; }
  stats="$out/default/fuzzer_stats"
  get() { grep -E "^$1 " "$stats" | sed 's/.*: //'; }
  crashes=$(find "$out/default/crashes" -name 'id:*' 2>/dev/null | wc -l)
  hangs=$(find "$out/default/hangs" -name 'id:*' 2>/dev/null | wc -l)
  echo "fuzz $t: $(get execs_done) execs ($(get execs_per_sec)/s), $(get corpus_count) paths, $crashes crashes, $hangs hangs"
  if [ "$crashes" -gt 0 ] || [ "$hangs" -gt 0 ]; then
    mkdir -p "$work/found/$t"
    find "$out/default/crashes" "$out/default/hangs" -name 'id:*' -exec cp {} "$work/found/$t/" \;
    log "$t: inputs that crash or hang are in $work/found/$t (replay: dotnet $pub/lispmobility-fuzz.dll $t FILE)"
    failed=$((failed + 1))
  fi
done
exit $((failed > 0))
