#!/usr/bin/env bash
# How fast one thread takes the packets routed to a TUN (one read per packet) and to a veth read through a TPACKET_V3 ring,
# with no LISP work: the floor under the ITR's per-core rate with each Xtr:DataPlane:Device (issue 15, docs/benchmarks.md).
# udpflood offers 64-byte packets to 10.99.0.1 in a namespace of this script's own; the reader counts them. Prints each
# reader's packets per second and per CPU-second, and the whole machine's CPU per packet read (generator, kernel and reader).
# Run as root under the CPU lock: flock /tmp/lispmobility-cpu.lock scripts/measure-ingress.sh [SECONDS=5]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
secs=${1:-5}
dir=$(mktemp -d)
ns=lmingress
trap 'ip netns del $ns 2>/dev/null || true; rm -rf "$dir"' EXIT
gcc -O2 -Wall -o "$dir/ingress-read" "$here/ingress-read.c"
gcc -O2 -Wall -o "$dir/udpflood" "$here/udpflood.c"
busy() { awk '/^cpu /{print $2 + $3 + $4 + $7 + $8 + $9}' /proc/stat; }
echo "loadavg before: $(cat /proc/loadavg)"
for mode in tun ring; do
  ip netns del $ns 2>/dev/null || true
  ip netns add $ns
  ip -n $ns link set lo up
  if [ $mode = ring ]; then
    ip -n $ns link add ir0 type veth peer name irp
    ip -n $ns link set ir0 arp off up
    ip -n $ns link set irp up
    ip -n $ns addr add 10.98.0.1/32 dev ir0
    ip -n $ns route add 10.99.0.0/24 dev ir0
  fi
  ip netns exec $ns "$dir/ingress-read" $mode "$secs" >"$dir/$mode.out" 2>"$dir/$mode.err" &
  reader=$!
  for _ in $(seq 50); do grep -q ready "$dir/$mode.err" 2>/dev/null && break; sleep 0.1; done
  b0=$(busy)
  # The generator runs a second longer than the reader counts; its last sends may find the TUN gone.
  sent=$(ip netns exec $ns "$dir/udpflood" send 10.99.0.1 9000 $((secs + 1)) 2>/dev/null || true)
  b1=$(busy)
  wait $reader
  read -r line <"$dir/$mode.out"
  packets=$(echo "$line" | grep -o '[0-9]* packets in' | cut -d' ' -f1)
  echo "$line; offered: ${sent:-?}; machine: $(python3 -c "print('%.2f' % (($b1 - $b0) / 100.0 / ($packets * ($secs + 1) / $secs) * 1e6))") us of CPU per packet read"
done
echo "loadavg after: $(cat /proc/loadavg)"
