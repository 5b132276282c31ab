#!/usr/bin/env bash
# Forwarding through the lab's ITR -> ETR pair (branch host -> br's ITR -> DC1's ETR -> VM) against plain kernel routing
# over the same veths, in one run (issue 15, docs/benchmarks.md): 64-byte packets per second (scripts/udpflood.c: 64
# datagrams per sendmmsg from the branch host, counted by recvmmsg in the VM's namespace; iperf3's UDP sender cannot
# offer more than ~90 kpps here) and bulk TCP (iperf3, one stream).
# Run under the CPU lock: flock /tmp/lispmobility-cpu.lock scripts/measure-forwarding.sh
# Environment: SECONDS_PER_RUN (10), FLOOD_RATE (0 = unlimited), LISPMOBILITY_DLL (the agent build; default the newest),
# BUILDS="label=path/lispmobility.dll ..." to measure several agent builds one after the other in the same lab (br and
# DC1 restarted with each; e.g. before/after a change), then the plain path; ROUNDS=N does all that N times, alternating.
# A path may end in @veth (or @tun, the default): that build runs with Xtr:DataPlane:Device veth, the ring-read veth pair;
# @user runs it on the TUN with Xtr:DataPlane:FastPath off (every packet through the user-space loops, no kernel fast path),
# @bulk with FastPath bulk (the kernel's ITR program takes TCP super-packets only).
set -euo pipefail
export LAB_PREFIX=${LAB_PREFIX:-lmfwd} LAB_DIR=${LAB_DIR:-/tmp/lispmobility-fwd-lab}
here=$(cd "$(dirname "$0")" && pwd)
lab="$here/netns-lab.sh"
secs=${SECONDS_PER_RUN:-10}
ns() { echo "$LAB_PREFIX-$1"; }
command -v iperf3 >/dev/null || { echo "iperf3 is not installed (apt-get install -y iperf3)" >&2; exit 1; }
command -v gcc >/dev/null || { echo "gcc is not installed (apt-get install -y gcc)" >&2; exit 1; }
mkdir -p "$LAB_DIR"
flood="$LAB_DIR/udpflood"
gcc -O2 -Wall -o "$flood" "$here/udpflood.c"
trap '[ -f "$LAB_DIR/iperf3.pid" ] && kill "$(cat "$LAB_DIR/iperf3.pid")" 2>/dev/null; "$lab" down >/dev/null 2>&1 || true' EXIT
echo "loadavg before: $(cat /proc/loadavg)"
builds=${BUILDS:-"newest=${LISPMOBILITY_DLL:-}"}
first=${builds%% *}
dll() { local p=${1#*=}; echo "${p%@*}"; }
suffix() { local p=${1#*=}; [[ $p == *@* ]] && echo "${p##*@}" || echo tun; }
device() { [ "$(suffix "$1")" = veth ] && echo veth || echo tun; }
fastpath() { case "$(suffix "$1")" in user) echo off ;; bulk) echo bulk ;; *) echo auto ;; esac; }
LISPMOBILITY_Xtr__DataPlane__FastPath=$(fastpath "$first") LISPMOBILITY_Xtr__DataPlane__Device=$(device "$first") LISPMOBILITY_DLL=$(dll "$first") "$lab" up >/dev/null
reach() { for _ in $(seq 60); do ip netns exec "$(ns bh)" ping -n -c 1 -W 1 172.16.4.10 >/dev/null 2>&1 && return 0; sleep 0.5; done; echo "172.16.4.10 unreachable" >&2; }
reach

# CPU ticks (user + system, USER_HZ) of the threads of process $1 whose name starts with $2; "ksoftirqd" sums the kernel's
# softirq threads instead. The kernel charges softirq work done on a thread's way out of a syscall (a veth's forwarding
# on to the next namespace's socket) to that thread, and the rest to ksoftirqd or to idle.
ticks() { # pid|ksoftirqd prefix
  python3 - "$@" <<'PY'
import glob, sys
pid, prefix = sys.argv[1], sys.argv[2]
paths = glob.glob(f"/proc/{pid}/task/*/stat") if pid != "ksoftirqd" else glob.glob("/proc/[0-9]*/stat")
total = 0
for path in paths:
    try:
        text = open(path).read()
    except OSError:
        continue
    name, rest = text[text.index("(") + 1:text.rindex(")")], text[text.rindex(")") + 2:].split()
    if name.startswith(prefix): total += int(rest[11]) + int(rest[12])
print(total)
PY
}

# Busy ticks of all cores (user, nice, system, irq, softirq, steal) from /proc/stat.
busy_ticks() { awk '/^cpu /{print $2 + $3 + $4 + $7 + $8 + $9}' /proc/stat; }

# ticks of br's ITR threads, DC1's ETR thread and ksoftirqd, on one line.
xtr_ticks() { echo "$(ticks "$(cat "$LAB_DIR/br.pid")" lisp-itr) $(ticks "$(cat "$LAB_DIR/dc1.pid")" lisp-etr) $(ticks ksoftirqd ksoftirqd)"; }

run() { # label [lisp]
  local label=$1 pps tcp cpu="" machine
  ip netns exec "$(ns vm)" iperf3 -s -D -I "$LAB_DIR/iperf3.pid"; sleep 0.5
  ip netns exec "$(ns vm)" "$flood" recv 9000 "$secs" >"$LAB_DIR/flood-recv.out" & local rx=$!
  sleep 0.3
  local sent received before after busy0 busy1
  [ -z "${2:-}" ] || before=$(xtr_ticks)
  busy0=$(busy_ticks)
  sent=$(ip netns exec "$(ns bh)" "$flood" send 172.16.4.10 9000 "$secs" 36 "${FLOOD_RATE:-0}")
  busy1=$(busy_ticks)
  [ -z "${2:-}" ] || after=$(xtr_ticks)
  wait "$rx" || true
  received=$(grep received "$LAB_DIR/flood-recv.out" || echo "received 0 pps")
  pps="$(echo "$sent" | cut -d' ' -f2) offered, $(echo "$received" | cut -d' ' -f2) received"
  # Packets per CPU-second: what each role forwarded per second of its own threads' CPU (ksoftirqd given to both, the
  # conservative side), so the per-core rate shows even where the generator takes the cores the xTRs would use.
  if [ -n "${2:-}" ]; then
    cpu=$(python3 -c 'import sys
rx, secs, hz = float(sys.argv[1]), float(sys.argv[2]), 100.0
itr, etr, soft = ((a - b) / hz for a, b in zip(map(int, sys.argv[4].split()), map(int, sys.argv[3].split())))
per = lambda c: "%.2f M" % (rx * secs / c / 1e6) if c > 0 else "?"
print(" ITR %.2f, ETR %.2f, ksoftirqd %.2f cores; per core: ITR %s (%s with ksoftirqd), ETR %s (%s)" % (itr / secs, etr / secs, soft / secs, per(itr), per(itr + soft), per(etr), per(etr + soft)))' \
      "$(echo "$received" | cut -d' ' -f2)" "$secs" "$before" "$after")
  fi
  # The whole machine's CPU per packet received (generator, both xTRs, receiver, softirqs): work moved from one thread to
  # another (e.g. a ring's copy done in the sender's softirq rather than in the ITR's read) cannot make this look better.
  machine=$(python3 -c 'import sys; rx, secs, ticks = float(sys.argv[1]), float(sys.argv[2]), int(sys.argv[4]) - int(sys.argv[3]); print("%.2f us of CPU per packet received" % (ticks / 100.0 / (rx * secs) * 1e6) if rx > 0 else "?")' \
    "$(echo "$received" | cut -d' ' -f2)" "$secs" "$busy0" "$busy1")
  # Bulk TCP, and the whole machine's CPU per GB received meanwhile: what the path costs per byte, whatever idle time the
  # shared cores leave (a change that removes work shows here even where the rate is within the run-to-run spread).
  busy0=$(busy_ticks)
  tcp=$(ip netns exec "$(ns bh)" iperf3 -c 172.16.4.10 -t "$secs" -J | python3 -c 'import json,sys; print("%.2f" % (json.load(sys.stdin)["end"]["sum_received"]["bits_per_second"]/1e9))')
  busy1=$(busy_ticks)
  kill "$(cat "$LAB_DIR/iperf3.pid")" 2>/dev/null || true
  bulk=$(python3 -c 'import sys; gbps, secs, ticks = float(sys.argv[1]), float(sys.argv[2]), int(sys.argv[4]) - int(sys.argv[3]); cores = ticks / 100.0 / secs; print("%.2f cores busy, %.2f core-seconds per GB" % (cores, cores / (gbps / 8)) if gbps > 0 else "?")' \
    "$tcp" "$secs" "$busy0" "$busy1")
  echo "| $label | $pps | $tcp Gbps | ${cpu:- } | $machine | $bulk |"
}

echo "| path | 64-byte UDP packets/s (udpflood, 36-byte payloads) | bulk TCP (iperf3, 1 stream) | xTR threads' CPU during the flood, packets per CPU-second | whole machine during the flood | whole machine during bulk TCP |"
echo "|---|---|---|---|---|---|"
# ROUNDS > 1 alternates: every build, then the plain path, again and again in the same lab, so that the machine's load
# (shared cores) weighs on both sides alike and the run-to-run spread shows.
last=$first
for round in $(seq "${ROUNDS:-1}"); do
  for b in $builds; do
    # A build other than the one running restarts br and DC1 with it (a repeat of a label is restarted too: "-again").
    if [ "$b" != "$last" ]; then
      for n in br dc1; do LISPMOBILITY_Xtr__DataPlane__FastPath=$(fastpath "$b") LISPMOBILITY_Xtr__DataPlane__Device=$(device "$b") LISPMOBILITY_DLL=$(dll "$b") "$lab" restart "$n" >/dev/null; done
      reach
      last=$b
    fi
    # What the running build opened: "vnet_hdr on" where the TUN carries offloads (Xtr:DataPlane:Offloads), or the veth pair.
    vnet=$(ip -n "$(ns br)" -d link show lisp0 | grep -o 'vnet_hdr [a-z]*\|veth' | head -1 || echo 'device ?')
    ip -n "$(ns br)" link show lisp0x >/dev/null 2>&1 && vnet="$vnet, kernel fast path $(fastpath "$b")" || vnet="$vnet, user space only"
    run "LISP (${b%%=*}, $vnet): br ITR -> DC1 ETR (UDP 4341)" lisp
  done
  # The same veths without LISP: host routes beat the TUN's prefixes, both ways; taken out again for the next round.
  ip -n "$(ns br)" route add 172.16.4.10/32 via 198.18.0.11
  ip -n "$(ns dc1)" route add 10.50.0.10/32 via 198.18.0.13
  run "plain kernel routing, same veths"
  ip -n "$(ns br)" route del 172.16.4.10/32 via 198.18.0.11
  ip -n "$(ns dc1)" route del 10.50.0.10/32 via 198.18.0.13
  reach
done
echo "loadavg after: $(cat /proc/loadavg)"
