#!/usr/bin/env bash
# Where a bulk TCP run through the lab's ITR -> ETR pair spends both cores (issue 15, docs/benchmarks.md): iperf3 from the
# branch host to the VM for 10 s, `perf record -a -g` over 5 s of it, the agents' JIT code named (perf maps, and no
# double-mapped code pages, which perf cannot name). Prints the rate, the share of each thread and the top symbols.
# Run as root under the CPU lock: flock /tmp/lispmobility-cpu.lock scripts/profile-bulk.sh [tun|veth]
# Environment: LISPMOBILITY_DLL (the agent build; default the newest), PERF_DATA (default /tmp/lispmobility-bulk.perf).
set -euo pipefail
export LAB_PREFIX=${LAB_PREFIX:-lmprof} LAB_DIR=${LAB_DIR:-/tmp/lispmobility-prof-lab}
export DOTNET_PerfMapEnabled=1 DOTNET_EnableWriteXorExecute=0
export LISPMOBILITY_Xtr__DataPlane__Device=${1:-tun}
here=$(cd "$(dirname "$0")" && pwd)
lab="$here/netns-lab.sh"
data=${PERF_DATA:-/tmp/lispmobility-bulk.perf}
ns() { echo "$LAB_PREFIX-$1"; }
for tool in iperf3 perf; do command -v $tool >/dev/null || { echo "$tool is not installed" >&2; exit 1; }; done
mkdir -p "$LAB_DIR"
trap '[ -f "$LAB_DIR/iperf3.pid" ] && kill "$(cat "$LAB_DIR/iperf3.pid")" 2>/dev/null; "$lab" down >/dev/null 2>&1 || true' EXIT
"$lab" up >/dev/null
for _ in $(seq 60); do ip netns exec "$(ns bh)" ping -n -c 1 -W 1 172.16.4.10 >/dev/null 2>&1 && break; sleep 0.5; done
ip netns exec "$(ns vm)" iperf3 -s -D -I "$LAB_DIR/iperf3.pid"; sleep 0.5
ip netns exec "$(ns bh)" iperf3 -c 172.16.4.10 -t 10 -J >"$LAB_DIR/iperf3.json" &
client=$!
sleep 3
perf record -F 1999 -a -g -o "$data" -- sleep 5 >/dev/null 2>&1
wait "$client"
python3 -c 'import json,sys; print("bulk TCP %.2f Gbps (device %s)" % (json.load(open(sys.argv[1]))["end"]["sum_received"]["bits_per_second"] / 1e9, sys.argv[2]))' \
  "$LAB_DIR/iperf3.json" "$LISPMOBILITY_Xtr__DataPlane__Device"
echo "--- share of both cores' samples by thread (br's and DC1's ITR are both 'lisp-itr N', told apart by pid)"
perf report -i "$data" --no-children --sort pid,comm -g none --percent-limit 0.5 --stdio 2>/dev/null | grep -v '^#' | grep -v '^$'
echo "--- top symbols"
perf report -i "$data" --no-children --sort comm,sym -g none --percent-limit 0.4 --stdio 2>/dev/null | grep -v '^#' | grep -v '^$' | cut -c1-160 | head -40
echo "perf data: $data (perf report -i $data)"
