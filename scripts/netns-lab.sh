#!/usr/bin/env bash
# The multi-site lab of the system test, built by hand in network namespaces (run as root):
#   scripts/netns-lab.sh up [--no-agents]   namespaces, veths, bridges, configs in LAB_DIR; the four agents unless --no-agents
#   scripts/netns-lab.sh move dc1|dc2       switch the VM's NIC to its port at that site and announce it (GARP); says what it did
#   scripts/netns-lab.sh start|stop|restart NODE   one node's agent (ms, dc1, dc2, br), e.g. `stop dc1` to fail a site
#   scripts/netns-lab.sh netem on|off       30 % loss + 50 ms delay on every site link (tc netem, else NFQUEUE + LinkEmulator)
#   scripts/netns-lab.sh cli NODE VERB...   a CLI verb against a node's agent, e.g. `cli br map-cache`
#   scripts/netns-lab.sh down               stop the agents, delete every namespace of the lab
# Environment: LAB_PREFIX (default lml), LAB_DIR (configs, logs), LISPMOBILITY_DLL / LINKEMU_DLL (agent / link emulator), LAB_NETEM (tc|emulator),
# LAB_RLOCS (ipv4, the default, or ipv6: the core is dual-stack either way; this picks the family of the RLOCs, the Map-Server's
# address and every control and data packet on the core, so `LAB_RLOCS=ipv6` carries IPv4 and IPv6 EIDs over IPv6 RLOCs).
# LAB_DEVICE (tun, the default, or veth): the xTRs' Xtr:DataPlane:Device, the TUN or the veth pair read through a packet ring.
# The agents take LISPMOBILITY_* settings from the environment, e.g. LISPMOBILITY_Xtr__DataPlane__FastPath=off (the kernel
# fast path, on by default over IPv4 RLOCs with the TUN: lisp0x in each xTR's namespace is its decapsulation device).
#
#   ${P}-ms   core bridge 198.18.0.1/24 and 2001:db8:ff::1/64, the Map-Server/Resolver (agent with an embedded MapServer)
#   ${P}-dc1  wan 198.18.0.11/24, 2001:db8:ff::11/64 ─┐   srv bridge 172.16.4.1/24 and 2001:db8:4::1/64 (servers), port "vm" to the VM; the VM starts here
#   ${P}-dc2  wan 198.18.0.12/24, 2001:db8:ff::12/64 ─┼─ veth to the core; srv bridge as DC1's: same gateway addresses and MAC (no renumbering), port "vm"
#   ${P}-br   wan 198.18.0.13/24, 2001:db8:ff::13/64 ─┘   the branch: an ITR only
#   ${P}-tap  wan 198.18.0.66/24 on the core, for hand-made control packets
#   ${P}-vm   eth0 172.16.4.10/24 and 2001:db8:4::10/64, the VM (default routes via 172.16.4.1 and 2001:db8:4::1, the gateway at whichever site it is);
#             eth0 is a bridge with a port to each site (dc1, dc2; isolated from each other), one up: the host the VM runs on now
#   ${P}-bh   eth0 10.50.0.10/24 and 2001:db8:50::10/64, a host behind the branch (the branch registers 10.50.0.0/24 and
#             2001:db8:50::/64), default via 10.50.0.1 and 2001:db8:50::1
# The xTRs of dc1, dc2 and br run the LISP data plane (TUN lisp0, or the veth pair lisp0/lisp0p with LAB_DEVICE=veth; UDP
# 4341): `ip netns exec ${P}-bh ping 172.16.4.10`
# and `ip netns exec ${P}-bh ping -6 2001:db8:4::10` cross the core encapsulated both ways (IPv4 and IPv6 EIDs over IPv4
# RLOCs, or over IPv6 RLOCs with LAB_RLOCS=ipv6), and follow the VM when it moves.
# Dynamic-EID ranges (home DC1, allowed at DC1 and DC2): vm-web 172.16.4.0/24 and vm-web6 2001:db8:4::/64 (the VM's two
# addresses: a move carries its /32 and its /128), vm-dr 172.16.16.0/22 (bulk DR runs).
# Nothing is done in the root namespace.
set -euo pipefail
P=${LAB_PREFIX:-lml}
DIR=${LAB_DIR:-/tmp/lispmobility-netns-lab}
root=$(cd "$(dirname "$0")/.." && pwd)
SITES=(dc1 dc2 br)
declare -A RLOC4=([ms]=198.18.0.1 [dc1]=198.18.0.11 [dc2]=198.18.0.12 [br]=198.18.0.13)
declare -A RLOC6=([ms]=2001:db8:ff::1 [dc1]=2001:db8:ff::11 [dc2]=2001:db8:ff::12 [br]=2001:db8:ff::13)
case "${LAB_DEVICE:-tun}" in tun|veth) ;; *) echo "LAB_DEVICE='$LAB_DEVICE': tun or veth" >&2; exit 2 ;; esac
case "${LAB_RLOCS:-ipv4}" in
  ipv4) declare -n RLOC=RLOC4 ;;
  ipv6) declare -n RLOC=RLOC6 ;;
  *) echo "LAB_RLOCS='$LAB_RLOCS': ipv4 or ipv6" >&2; exit 2 ;;
esac

ns() { echo "$P-$1"; }

GATEWAY_MAC=02:00:00:04:00:01
VM_MAC=02:00:00:04:00:10

# address:port as the configuration writes it (an IPv6 address in brackets).
endpoint() { case "$1" in *:*) echo "[$1]:$2" ;; *) echo "$1:$2" ;; esac; }

topology_up() {
  ip netns add "$(ns ms)"
  ip -n "$(ns ms)" link set lo up
  ip -n "$(ns ms)" link add core type bridge
  ip -n "$(ns ms)" addr add "${RLOC4[ms]}/24" dev core
  ip -n "$(ns ms)" addr add "${RLOC6[ms]}/64" dev core nodad
  ip -n "$(ns ms)" link set core up
  for s in "${SITES[@]}"; do
    ip netns add "$(ns "$s")"
    ip -n "$(ns "$s")" link set lo up
    ip -n "$(ns "$s")" link add wan type veth peer name "$s" netns "$(ns ms)"
    ip -n "$(ns "$s")" addr add "${RLOC4[$s]}/24" dev wan
    ip -n "$(ns "$s")" addr add "${RLOC6[$s]}/64" dev wan nodad
    ip -n "$(ns "$s")" link set wan up
    ip -n "$(ns ms)" link set dev "$s" master core up
  done
  for s in dc1 dc2; do
    # One gateway MAC at both sites, as a fabric that lets VMs move presents (the same HSRP vMAC everywhere): a VM keeps
    # its ARP and ND entries across a live move.
    ip -n "$(ns "$s")" link add srv address "$GATEWAY_MAC" type bridge
    ip -n "$(ns "$s")" addr add 172.16.4.1/24 dev srv
    ip -n "$(ns "$s")" addr add 2001:db8:4::1/64 dev srv nodad
    ip -n "$(ns "$s")" link set srv up
  done
  # A host on the core for hand-made control traffic (lig, crafted Map-Registers, floods).
  ip netns add "$(ns tap)"
  ip -n "$(ns tap)" link set lo up
  ip -n "$(ns tap)" link add wan type veth peer name tap netns "$(ns ms)"
  ip -n "$(ns tap)" addr add 198.18.0.66/24 dev wan
  ip -n "$(ns tap)" link set wan up
  ip -n "$(ns ms)" link set dev tap master core up
  # The VM's NIC has a port to each site, built once: a live move is a switch of the port that is up (as a hypervisor's
  # switchover makes the VM's MAC appear on another switch port), not a device moved between namespaces (which alone costs
  # the kernel 15-30 ms). Its ports never forward to each other (isolated), carry nothing of their own (no IPv6), and have
  # interface indexes unlike their peers' (a veth whose index equals its peer's has its carrier acted on up to a second late).
  ip netns add "$(ns vm)"
  ip -n "$(ns vm)" link set lo up
  ip -n "$(ns vm)" link add eth0 address "$VM_MAC" type bridge mcast_snooping 0
  local index=10
  for s in dc1 dc2; do
    index=$((index + 1))
    ip -n "$(ns vm)" link add "$s" index "$index" type veth peer name vm index $((index + 10)) netns "$(ns "$s")"
    ip netns exec "$(ns vm)" sysctl -qw "net.ipv6.conf.$s.disable_ipv6=1"
    ip -n "$(ns vm)" link set dev "$s" master eth0
    ip -n "$(ns vm)" link set dev "$s" type bridge_slave isolated on
    ip -n "$(ns "$s")" link set dev vm master srv up
  done
  ip -n "$(ns vm)" addr add 172.16.4.10/24 dev eth0
  ip -n "$(ns vm)" addr add 2001:db8:4::10/64 dev eth0 nodad
  # What a guest does when its hypervisor says it moved (virtio's announce): an unsolicited NA for each IPv6 address;
  # `move` triggers it by setting the MAC again. Addresses survive a cold move's link down.
  ip netns exec "$(ns vm)" sysctl -qw net.ipv6.conf.eth0.ndisc_notify=1 net.ipv6.conf.eth0.keep_addr_on_down=1
  ip -n "$(ns vm)" link set eth0 up
  ip -n "$(ns vm)" link set dc1 up
  ip -n "$(ns vm)" route add default via 172.16.4.1
  ip -n "$(ns vm)" -6 route add default via 2001:db8:4::1
  # The branch's host: its /24 is the branch's EID prefix, its gateway the branch xTR.
  ip netns add "$(ns bh)"
  ip -n "$(ns bh)" link set lo up
  ip -n "$(ns bh)" link add eth0 type veth peer name host netns "$(ns br)"
  ip -n "$(ns bh)" addr add 10.50.0.10/24 dev eth0
  ip -n "$(ns bh)" addr add 2001:db8:50::10/64 dev eth0 nodad
  ip -n "$(ns bh)" link set eth0 up
  ip -n "$(ns bh)" route add default via 10.50.0.1
  ip -n "$(ns br)" addr add 10.50.0.1/24 dev host
  ip -n "$(ns br)" addr add 2001:db8:50::1/64 dev host nodad
  ip -n "$(ns br)" link set host up
  ip -n "$(ns bh)" -6 route add default via 2001:db8:50::1
  # The xTRs route between their EID side and the TUN of the data plane, in both families.
  for s in "${SITES[@]}"; do ip netns exec "$(ns "$s")" sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1; done
}

move_vm() {
  local to=$1 from what announced
  case "$to" in dc1|dc2) ;; *) echo "move: no site '$to' (dc1 or dc2)" >&2; exit 2 ;; esac
  ip netns list | grep -q "^$(ns vm)\b" || { echo "move: the lab is not up (no namespace $(ns vm)): run $0 up" >&2; exit 1; }
  from=$([ "$to" = dc1 ] && echo dc2 || echo dc1)
  # The new port up first, and running (both bridges forward on it) before the old one goes down: the VM's NIC never
  # loses its carrier, as a migrated guest's does not.
  ip -n "$(ns vm)" link set dev "$to" up
  for _ in $(seq 100); do
    ip -n "$(ns vm)" -o link show dev "$to" | grep -q 'state UP' && ip -n "$(ns "$to")" -o link show dev vm | grep -q 'state UP' && break
    sleep 0.01
  done
  if ip -n "$(ns vm)" -o link show dev "$from" | grep -q '[<,]UP[,>]'; then
    ip -n "$(ns vm)" link set dev "$from" down
    what="moved the VM (172.16.4.10 and 2001:db8:4::10) from $from to $to (its port $to up, $from down; bridge srv in $(ns "$to"))"
  else
    what="the VM (172.16.4.10 and 2001:db8:4::10) was already at $to (bridge srv in $(ns "$to")): not moved, announced again"
  fi
  announce_ipv6
  # What a hypervisor does after a move: announce the VM's address (ESXi sends RARP, Hyper-V and KVM GARP).
  if ip netns exec "$(ns vm)" arping -q -U -c 3 -I eth0 172.16.4.10 2>/dev/null; then
    announced="sent 3 gratuitous ARPs from the VM"
  else
    # arping -U exits non-zero when nobody answers, which is normal for gratuitous ARP; only a missing arping is a failure.
    command -v arping >/dev/null && announced="sent 3 gratuitous ARPs from the VM (no replies, as usual)" \
      || announced="NOT announced: arping is not installed (apt-get install iputils-arping); the agent sees the VM only when it sends"
  fi
  echo "$what; $announced; sent an unsolicited NA for 2001:db8:4::10"
  echo "${to^^}'s agent should detect it by GARP and NA and register 172.16.4.10/32 and 2001:db8:4::10/128 for $to (see: $0 cli $to status; $0 cli br map-cache)"
}

# The VM's kernel sends an unsolicited NA for each of its IPv6 addresses when its MAC is set (ndisc_notify, set at `up`),
# as a guest does on its hypervisor's announce after a move; setting the same MAC again changes nothing else.
announce_ipv6() {
  local mac
  mac=$(ip -n "$(ns vm)" -br link show dev eth0 | awk '{print $3}')
  ip -n "$(ns vm)" link set dev eth0 address "$mac"
}

# tc netem when the kernel has sch_netem. Otherwise the same impairment in user space: in each site namespace iptables
# sends IPv4 leaving or entering `wan` (OUTPUT -o wan, INPUT -i wan, and FORWARD both ways, which netem on the device
# would also delay) to NFQUEUE queue 0, served by one LinkEmulator process there (tests/LispMobility.LinkEmulator).
# Impairing both directions inside the site gives each site-to-site path the two impaired hops of netem on both ends.
# Differences: ARP (and IPv6) pass unimpaired; no --queue-bypass, so a dead emulator drops everything, never passes it.
# LAB_NETEM=tc|emulator forces one mechanism (default: tc when it works). Prints the mechanism used.
NETEM_RULES=("INPUT -i wan" "OUTPUT -o wan" "FORWARD -i wan" "FORWARD -o wan")

netem() {
  local how=${LAB_NETEM:-auto}
  if [ "$1" != on ]; then
    netem_tc off
    emulation_off
    echo "netem: off"
    return
  fi
  if [ "$how" != emulator ] && netem_tc on; then
    echo "netem: tc netem (loss 30% delay 50ms on both ends of every site link)"
    return
  fi
  [ "$how" = tc ] && { echo "tc netem does not work on this kernel (LAB_NETEM=tc)" >&2; exit 1; }
  emulation_on
  echo "netem: user-space emulation (iptables NFQUEUE + LinkEmulator, loss 30% delay 50ms each way on every site link, IPv4 only)"
}

netem_tc() {
  for s in "${SITES[@]}"; do
    if [ "$1" = on ]; then
      tc -n "$(ns "$s")" qdisc replace dev wan root netem loss 30% delay 50ms 2>/dev/null || return 1
      tc -n "$(ns ms)" qdisc replace dev "$s" root netem loss 30% delay 50ms 2>/dev/null || return 1
    else
      tc -n "$(ns "$s")" qdisc del dev wan root 2>/dev/null || true
      tc -n "$(ns ms)" qdisc del dev "$s" root 2>/dev/null || true
    fi
  done
}

emulator_dll() {
  local d=${LINKEMU_DLL:-}
  [ -n "$d" ] || d=$(ls -t "$root"/tests/LispMobility.LinkEmulator/bin/*/net10.0/LispMobility.LinkEmulator.dll 2>/dev/null \
    | while read -r c; do [ -f "${c%.dll}.runtimeconfig.json" ] && { echo "$c"; break; }; done)
  [ -n "$d" ] && [ -f "$d" ] || { echo "build the link emulator first (dotnet build tests/LispMobility.LinkEmulator -c Release)" >&2; exit 1; }
  echo "$d"
}

emulation_on() {
  local d s r ok
  d=$(emulator_dll)
  command -v iptables >/dev/null || { echo "the netem emulation needs iptables (apt-get install iptables)" >&2; exit 1; }
  emulation_off
  mkdir -p "$DIR"
  for s in "${SITES[@]}"; do
    ip netns exec "$(ns "$s")" dotnet "$d" --queue 0 --delay-ms 50 --loss-percent 30 </dev/null >"$DIR/netem-$s.log" 2>&1 &
    echo $! >"$DIR/netem-$s.pid"
  done
  # Rules only once the queue is bound: the emulator says so (or why not) in its log.
  for s in "${SITES[@]}"; do
    ok=no
    for _ in $(seq 100); do
      grep -q "bound" "$DIR/netem-$s.log" 2>/dev/null && { ok=yes; break; }
      kill -0 "$(cat "$DIR/netem-$s.pid")" 2>/dev/null || break
      sleep 0.2
    done
    [ $ok = yes ] || { echo "the link emulator of $s did not start:" >&2; cat "$DIR/netem-$s.log" >&2; emulation_off; exit 1; }
  done
  for s in "${SITES[@]}"; do
    for r in "${NETEM_RULES[@]}"; do
      # shellcheck disable=SC2086 # a rule is several words
      ip netns exec "$(ns "$s")" iptables -w -A $r -j NFQUEUE --queue-num 0
    done
  done
}

emulation_off() {
  local s r f pid
  for s in "${SITES[@]}"; do
    ip netns list | grep -q "^$(ns "$s")\b" || continue
    for r in "${NETEM_RULES[@]}"; do
      # shellcheck disable=SC2086
      while ip netns exec "$(ns "$s")" iptables -w -D $r -j NFQUEUE --queue-num 0 2>/dev/null; do :; done
    done
  done
  for s in "${SITES[@]}"; do
    f="$DIR/netem-$s.pid"
    [ -f "$f" ] || continue
    pid=$(cat "$f")
    kill "$pid" 2>/dev/null || true
    # The queue is free for a new emulator only once this one has closed its socket.
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    rm -f "$f"
  done
}

config() { # node site key aggregate dynamic remote-eids
  local node=$1 site=$2 key=$3 aggregate=$4 dynamic=$5 remote=${6:-} ms_section="" dp="" dyn="" forwarding=""
  if [ "$node" = ms ]; then
    ms_section='"MapServer": { "Listen": ["'"$(endpoint "${RLOC[ms]}" 4342)"'"], "Sites": [
      { "Name": "dc1", "EidPrefixes": [ { "Prefix": "172.16.4.0/24", "AcceptMoreSpecifics": true }, { "Prefix": "2001:db8:4::/64", "AcceptMoreSpecifics": true }, { "Prefix": "172.16.16.0/22", "AcceptMoreSpecifics": true } ], "Keys": [ { "KeyId": 1, "Key": "lab-key-dc1" } ] },
      { "Name": "dc2", "EidPrefixes": [ { "Prefix": "172.16.4.0/24", "AcceptMoreSpecifics": true }, { "Prefix": "2001:db8:4::/64", "AcceptMoreSpecifics": true }, { "Prefix": "172.16.16.0/22", "AcceptMoreSpecifics": true } ], "Keys": [ { "KeyId": 1, "Key": "lab-key-dc2" } ] },
      { "Name": "br", "EidPrefixes": [ { "Prefix": "10.50.0.0/24" }, { "Prefix": "2001:db8:50::/64" } ], "Keys": [ { "KeyId": 1, "Key": "lab-key-br" } ] },
      { "Name": "core", "EidPrefixes": [ { "Prefix": "10.99.0.0/24" } ], "Keys": [ { "KeyId": 1, "Key": "lab-key-core" } ] } ] },'
  fi
  if [ "$dynamic" = yes ]; then
    dp='"Watchers": { "DataPlane": { "Interfaces": ["srv"] } },'
    dyn='{ "Name": "vm-web", "Interface": "srv" }, { "Name": "vm-web6", "Interface": "srv" }, { "Name": "vm-dr", "Interface": "srv" }'
  fi
  [ -n "$remote" ] && forwarding=", \"DataPlane\": { \"Enabled\": true, \"Device\": \"${LAB_DEVICE:-tun}\", \"RemoteEidPrefixes\": [$remote] }, \"RlocProbeInterval\": \"00:00:01\""
  cat >"$DIR/$node.json" <<EOF
{ $ms_section
  "Xtr": { "Site": "$site", "Listen": ["$(endpoint "${RLOC[$node]}" "$([ "$node" = ms ] && echo 4343 || echo 4342)")"], "Rlocs": [ { "Address": "${RLOC[$node]}" } ],
    "MapServers": [ { "Address": "$(endpoint "${RLOC[ms]}" 4342)", "KeyId": 1, "Key": "$key" } ], "MapResolvers": ["$(endpoint "${RLOC[ms]}" 4342)"],
    "DatabaseMappings": [$aggregate], "DynamicEids": [$dyn], "RegisterDeadline": "00:00:10",
    "RegisterInterval": "00:00:03", "QuickRegisterInterval": "00:00:03"$forwarding },
  $dp
  "Mobility": { "Database": "$DIR/$node.db", "HoldDown": "00:00:00.500",
    "Ranges": [ { "Name": "vm-web", "Prefix": "172.16.4.0/24", "HomeSite": "dc1", "Sites": ["dc1", "dc2"] },
      { "Name": "vm-web6", "Prefix": "2001:db8:4::/64", "HomeSite": "dc1", "Sites": ["dc1", "dc2"] },
      { "Name": "vm-dr", "Prefix": "172.16.16.0/22", "HomeSite": "dc1", "Sites": ["dc1", "dc2"] } ] },
  "Agent": { "RouteTable": "kernel" },
  "ManagementApi": { "BindAddress": "127.0.0.1", "Port": 4380, "TokenFile": "$DIR/$node.token" },
  "Log": { "File": false }
}
EOF
  [ -f "$DIR/$node.token" ] || { head -c 48 /dev/urandom | base64 -w0 | tr '+/' '-_' | tr -d '=' >"$DIR/$node.token"; chmod 600 "$DIR/$node.token"; }
}

dll() {
  local d=${LISPMOBILITY_DLL:-}
  # The newest complete build (a build in progress leaves a lispmobility.dll without its dependencies).
  [ -n "$d" ] || d=$(ls -t "$root"/src/LispMobility.Agent/bin/*/net10.0/lispmobility.dll 2>/dev/null \
    | while read -r c; do [ -f "$(dirname "$c")/LispMobility.Xtr.dll" ] && [ -f "$(dirname "$c")/lispmobility.runtimeconfig.json" ] && { echo "$c"; break; }; done)
  [ -n "$d" ] || { echo "build the agent first (dotnet build src/LispMobility.Agent -c Release)" >&2; exit 1; }
  echo "$d"
}

configs() {
  mkdir -p "$DIR"
  config ms core lab-key-core "" no
  config dc1 dc1 lab-key-dc1 '"172.16.4.0/24", "2001:db8:4::/64", "172.16.16.0/22"' yes '"10.50.0.0/24", "2001:db8:50::/64"'
  config dc2 dc2 lab-key-dc2 "" yes '"10.50.0.0/24", "2001:db8:50::/64"'
  config br br lab-key-br '"10.50.0.0/24", "2001:db8:50::/64"' no '"172.16.4.0/24", "2001:db8:4::/64", "172.16.16.0/22"'
}

NODES=(ms dc1 dc2 br)

# Starts one node's agent in its namespace; its pid (that of `ip netns exec`, which execs dotnet) goes to $DIR/NODE.pid.
# The agent outlives this script, so it must not inherit the caller's descriptors: a `flock LOCK netns-lab.sh up`
# would otherwise stay locked for as long as the agents run.
start_agent() { # node dll
  local n=$1 d=$2
  echo "--- $(date -u +%FT%TZ) $0: starting $n" >>"$DIR/$n.log"
  (
    for fd in /proc/$BASHPID/fd/*; do fd=${fd##*/}; [ "$fd" -le 2 ] || eval "exec $fd>&-"; done 2>/dev/null
    exec ip netns exec "$(ns "$n")" dotnet "$d" run --config "$DIR/$n.json" </dev/null >>"$DIR/$n.log" 2>&1
  ) &
  echo $! >"$DIR/$n.pid"
}

# Waits until the node's management API answers (60 s at most); false when it does not.
wait_agent() { # node dll
  local n=$1 d=$2
  for _ in $(seq 60); do
    ip netns exec "$(ns "$n")" dotnet "$d" status --json --config "$DIR/$n.json" >/dev/null 2>&1 && return 0
    running "$n" >/dev/null || return 1
    sleep 1
  done
  return 1
}

# The pid of the node's running agent, from its pid file; false when it is not running.
running() {
  local f="$DIR/$1.pid" pid
  [ -f "$f" ] || return 1
  pid=$(cat "$f")
  kill -0 "$pid" 2>/dev/null && echo "$pid"
}

agents_up() {
  local d; d=$(dll)
  for n in "${NODES[@]}"; do : >"$DIR/$n.log"; start_agent "$n" "$d"; done
  for n in "${NODES[@]}"; do wait_agent "$n" "$d" || true; done
  echo "agents up; logs in $DIR/*.log; try: $0 cli br lookup 172.16.4.10 && $0 move dc2 && $0 cli br map-cache"
}

node_arg() {
  local n=${1:-}
  case " ${NODES[*]} " in *" $n "*) ;; *) echo "no node '$n' (one of: ${NODES[*]})" >&2; exit 2 ;; esac
  ip netns list | grep -q "^$(ns "$n")\b" || { echo "the lab is not up (no namespace $(ns "$n")): run $0 up" >&2; exit 1; }
  [ -f "$DIR/$n.json" ] || { echo "no $DIR/$n.json: run $0 up" >&2; exit 1; }
}

start_node() {
  local n=$1 d pid
  node_arg "$n"
  if pid=$(running "$n"); then echo "$n: already running (pid $pid)"; return 0; fi
  d=$(dll)
  start_agent "$n" "$d"
  if wait_agent "$n" "$d"; then
    echo "$n: started (pid $(cat "$DIR/$n.pid")), its management API answers; log: $DIR/$n.log"
  else
    echo "$n: did not come up within 60 s; the end of $DIR/$n.log:" >&2
    tail -n 20 "$DIR/$n.log" >&2
    exit 1
  fi
}

stop_node() {
  local n=$1 pid
  node_arg "$n"
  if ! pid=$(running "$n"); then rm -f "$DIR/$n.pid"; echo "$n: not running"; return 0; fi
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$pid" 2>/dev/null; then
    kill -9 "$pid" 2>/dev/null || true
    echo "$n: stopped (pid $pid did not exit within 10 s of SIGTERM: killed)"
  else
    echo "$n: stopped (pid $pid, SIGTERM)"
  fi
  rm -f "$DIR/$n.pid"
}

down() {
  emulation_off
  for f in "$DIR"/*.pid; do [ -f "$f" ] && { kill "$(cat "$f")" 2>/dev/null || true; rm -f "$f"; }; done
  for n in $(ip netns list | awk '{print $1}' | grep "^$P-" || true); do
    # Agents started by hand in the namespace die with it only if nothing holds it: stop them first.
    for pid in $(ip netns pids "$n" 2>/dev/null); do kill -9 "$pid" 2>/dev/null || true; done
    ip netns del "$n"
  done
}

case "${1:-}" in
  up) down; topology_up; configs; [ "${2:-}" = --no-agents ] || agents_up ;;
  down) down ;;
  move) move_vm "${2:?dc1 or dc2}" ;;
  start) start_node "${2:-}" ;;
  stop) stop_node "${2:-}" ;;
  restart) stop_node "${2:-}"; start_node "$2" ;;
  netem) netem "${2:?on or off}" ;;
  cli) n=${2:?node}; shift 2; ip netns exec "$(ns "$n")" dotnet "$(dll)" "$@" --config "$DIR/$n.json" ;;
  *) sed -n '2,9p' "$0"; exit 2 ;;
esac
