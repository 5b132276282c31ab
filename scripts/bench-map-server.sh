#!/usr/bin/env bash
# The Map-Server as its own process under load-register (docs/benchmarks.md, "## Map-Server"): starts the server command
# given after the driver directory, prints its idle RSS, drives it with rounds new/refresh/new/refresh, stops it.
# Usage: scripts/bench-map-server.sh DRIVER_DIR SERVER_COMMAND... (e.g. /tmp/aot/lispmobility-map-server --config ms.json)
# Run it under flock /tmp/lispmobility-cpu.lock on a shared machine; the load average is printed before and after.
set -euo pipefail
driver=$1; shift
"$@" >/tmp/bench-map-server.$$.log 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null || true; rm -f /tmp/bench-map-server.$$.log' EXIT
for _ in $(seq 100); do grep -q listening /tmp/bench-map-server.$$.log && break; sleep 0.1; done
grep -q listening /tmp/bench-map-server.$$.log || { echo "the server did not start:" >&2; cat /tmp/bench-map-server.$$.log >&2; exit 1; }
echo "load $(cat /proc/loadavg)"
echo "server: $*"
echo "idle: $(grep -E '^(VmRSS|RssAnon|RssFile)' /proc/$pid/status | tr -s ' \t' ' ' | paste -sd ' ')"
"$driver/LispMobility.Benchmarks" load-register --server 127.0.0.1:14342 --pid $pid --pattern nrnr --window 64 --sockets 2 2>&1 \
  | grep -vE '^\s*$'
echo "after: $(grep -E '^(VmRSS|RssAnon|RssFile)' /proc/$pid/status | tr -s ' \t' ' ' | paste -sd ' ')"
echo "load $(cat /proc/loadavg)"
