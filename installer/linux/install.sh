#!/usr/bin/env bash
# Installs (or removes) the lispmobility agent as a systemd service.
#
#   install.sh [--prefix DIR] [--from-publish DIR] [--self-contained] [--no-systemctl] [--no-start]
#   install.sh --uninstall [--purge] [--prefix DIR] [--no-systemctl]
#
# --prefix DIR        install into DIR as if it were / (a staging or test root); no user is created,
#                     systemctl is not called, and ownership stays with the caller.
# --from-publish DIR  use an existing `dotnet publish` output instead of publishing from this repository.
# --self-contained    publish with the .NET runtime inside (default: framework-dependent, needs dotnet 10).
# --no-systemctl      write the unit but do not call systemctl (daemon-reload, enable, start).
# --no-start          enable the unit but do not (re)start it.
# --uninstall         remove the program, the symlink and the unit; keep config, token, state and logs...
# --purge             ...unless --purge is given too (then also those, and the system user).
#
# Safe to run again: the program is replaced, the unit rewritten; the config and the token are never overwritten.
#
# The unit is enabled and (re)started only when the config no longer holds the example's change-me keys and
# `lispmobility config validate` accepts it; otherwise install.sh says what to edit and how to start it later.
set -euo pipefail

readonly SERVICE=lispmobility
readonly SERVICE_USER=lispmobility
readonly OPT_DIR=/opt/lispmobility
readonly BIN_LINK=/usr/local/bin/lispmobility
readonly ETC_DIR=/etc/lispmobility
readonly CONFIG=$ETC_DIR/appsettings.json
readonly TOKEN=$ETC_DIR/api-token
readonly UNIT=/etc/systemd/system/$SERVICE.service
readonly STATE_DIR=/var/lib/lispmobility
readonly LOG_DIR=/var/log/lispmobility
readonly WATCHDOG_SEC=30
readonly START_LIMIT_INTERVAL_SEC=300
readonly START_LIMIT_BURST=5

prefix="" from_publish="" self_contained=0 systemctl=1 start=1 uninstall=0 purge=0
staging=""   # a temporary publish output, removed on exit
trap '[ -z "$staging" ] || rm -rf "$staging"' EXIT

say() { printf 'install.sh: %s\n' "$*"; }
die() { printf 'install.sh: error: %s\n' "$*" >&2; exit 1; }

while [ $# -gt 0 ]; do
  case "$1" in
    --prefix) [ $# -ge 2 ] || die "--prefix needs a directory"; prefix=$2; shift 2 ;;
    --prefix=*) prefix=${1#*=}; shift ;;
    --from-publish) [ $# -ge 2 ] || die "--from-publish needs a directory"; from_publish=$2; shift 2 ;;
    --from-publish=*) from_publish=${1#*=}; shift ;;
    --self-contained) self_contained=1; shift ;;
    --no-systemctl) systemctl=0; shift ;;
    --no-start) start=0; shift ;;
    --uninstall) uninstall=1; shift ;;
    --purge) purge=1; shift ;;
    -h|--help) sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown option '$1' (see --help)" ;;
  esac
done

if [ -n "$prefix" ]; then
  mkdir -p "$prefix" || die "cannot create prefix $prefix"
  prefix=$(cd "$prefix" && pwd)
  [ "$prefix" != / ] || prefix=""
fi
# A staging root is not a running system: nothing there is started, nobody is created.
if [ -n "$prefix" ] && [ "$systemctl" -eq 1 ]; then
  say "--prefix given: not calling systemctl"
  systemctl=0
fi
if [ -z "$prefix" ] && [ "$(id -u)" -ne 0 ]; then
  die "run as root (or use --prefix DIR to install into a staging root)"
fi
R=$prefix   # every target path is "$R/..."

user_exists() { [ -z "$prefix" ] && getent passwd "$SERVICE_USER" >/dev/null 2>&1; }

run_systemctl() {
  [ "$systemctl" -eq 1 ] || { say "not calling: systemctl $*"; return 0; }
  command -v systemctl >/dev/null 2>&1 || { say "systemctl not found: skipping 'systemctl $*'"; return 0; }
  systemctl "$@"
}

uninstall() {
  if [ "$systemctl" -eq 1 ] && [ -f "$R$UNIT" ]; then
    run_systemctl disable --now "$SERVICE.service" || say "could not stop/disable $SERVICE.service (continuing)"
  fi
  rm -f "$R$UNIT" "$R$BIN_LINK"
  rm -rf "$R$OPT_DIR"
  run_systemctl daemon-reload || true
  if [ "$purge" -eq 1 ]; then
    rm -rf "$R$ETC_DIR" "$R$STATE_DIR" "$R$LOG_DIR"
    if user_exists; then userdel "$SERVICE_USER" || say "could not remove user $SERVICE_USER"; fi
    say "removed $SERVICE with its configuration, token, state and logs"
  else
    say "removed $SERVICE; kept $ETC_DIR, $STATE_DIR and $LOG_DIR (use --purge to remove them)"
  fi
}

publish() {
  local out=$1 repo project rid
  repo=$(cd "$(dirname "$0")/../.." && pwd)
  project=$repo/src/LispMobility.Agent/LispMobility.Agent.csproj
  [ -f "$project" ] || die "no $project: run from the repository, or pass --from-publish DIR"
  command -v dotnet >/dev/null 2>&1 || die "dotnet SDK not found: install it, or pass --from-publish DIR"
  local args=(publish "$project" -c Release -o "$out" -nologo)
  if [ "$self_contained" -eq 1 ]; then
    case "$(uname -m)" in
      x86_64) rid=linux-x64 ;;
      aarch64|arm64) rid=linux-arm64 ;;
      *) die "no .NET runtime identifier known for $(uname -m)" ;;
    esac
    args+=(--self-contained true -r "$rid")
  else
    args+=(--self-contained false)
  fi
  say "dotnet ${args[*]}"
  dotnet "${args[@]}" >&2 || die "dotnet publish failed"
}

# A framework-dependent apphost looks for the runtime in DOTNET_ROOT, then in a few fixed places;
# the unit passes the location the installing machine uses so a dotnet under /usr/share or /opt works.
dotnet_root() {
  # A self-contained publish carries its own host (libhostfxr.so) and needs no DOTNET_ROOT.
  [ ! -e "$R$OPT_DIR/libhostfxr.so" ] || return 0
  local dotnet
  dotnet=$(command -v dotnet 2>/dev/null) || return 0
  dirname "$(readlink -f "$dotnet")"
}

write_unit() {
  local root; root=$(dotnet_root)
  mkdir -p "$(dirname "$R$UNIT")"
  {
    cat <<UNIT
# Written by installer/linux/install.sh (see docs/install.md); rerunning it rewrites this file.
# Local changes belong in: systemctl edit $SERVICE
[Unit]
Description=LispMobility agent: the network follows moved VMs over LISP
Wants=network-online.target
After=network-online.target
# A crash loop (a corrupt database, a bad config) stops after $START_LIMIT_BURST starts in $START_LIMIT_INTERVAL_SEC s
# instead of restarting every RestartSec forever: see \`systemctl status $SERVICE\`, fix, then \`systemctl reset-failed $SERVICE\`.
StartLimitIntervalSec=$START_LIMIT_INTERVAL_SEC
StartLimitBurst=$START_LIMIT_BURST

[Service]
Type=notify
NotifyAccess=main
ExecStart=$OPT_DIR/lispmobility run --config $CONFIG
User=$SERVICE_USER
Group=$SERVICE_USER
# Routes, proxy-ARP and the gateway macvlan need CAP_NET_ADMIN; the GARP/RARP/ND sniffer needs CAP_NET_RAW. Nothing else.
AmbientCapabilities=CAP_NET_ADMIN CAP_NET_RAW
CapabilityBoundingSet=CAP_NET_ADMIN CAP_NET_RAW
NoNewPrivileges=yes
WatchdogSec=$WATCHDOG_SEC
Restart=on-failure
RestartSec=5
TimeoutStartSec=90
TimeoutStopSec=30
StateDirectory=$SERVICE
StateDirectoryMode=0750
LogsDirectory=$SERVICE
LogsDirectoryMode=0750
WorkingDirectory=$STATE_DIR
UMask=0027
# Hardening; \`systemd-analyze security $SERVICE\` scores it (docs/install.md). What the agent needs decides what is left:
# /proc/sys/net is written (proxy-ARP, forwarding), so ProtectKernelTunables= and ProcSubset=pid stay off; the host's
# network is the point, so no PrivateNetwork=/IPAddressDeny=; PrivateUsers= would void the capabilities in the host's
# network namespace; the .NET JIT needs writable+executable memory, so no MemoryDenyWriteExecute=.
ProtectSystem=strict
ProtectHome=yes
PrivateTmp=yes
PrivateDevices=yes
PrivateMounts=yes
ProtectClock=yes
ProtectControlGroups=yes
ProtectHostname=yes
ProtectKernelLogs=yes
ProtectKernelModules=yes
ProtectProc=invisible
RestrictNamespaces=yes
RestrictRealtime=yes
RestrictSUIDSGID=yes
LockPersonality=yes
RemoveIPC=yes
# rtnetlink (routes, links, neighbours), AF_PACKET (GARP/RARP/ND sniffer), IP (LISP, the API), AF_UNIX (journald, sd_notify).
RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6 AF_NETLINK AF_PACKET
SystemCallArchitectures=native
SystemCallFilter=@system-service
SystemCallErrorNumber=EPERM
Environment=DOTNET_CLI_TELEMETRY_OPTOUT=1
UNIT
    [ -z "$root" ] || printf 'Environment=DOTNET_ROOT=%s\n' "$root"
    cat <<UNIT

[Install]
WantedBy=multi-user.target
UNIT
  } >"$R$UNIT.tmp"
  chmod 0644 "$R$UNIT.tmp"
  mv -f "$R$UNIT.tmp" "$R$UNIT"
}

write_config() {
  mkdir -p "$R$ETC_DIR"
  chmod 0750 "$R$ETC_DIR"
  if [ -e "$R$CONFIG" ]; then
    say "keeping existing $CONFIG"
    return 0
  fi
  local example; example=$(cd "$(dirname "$0")/../.." && pwd)/config/appsettings.example.json
  if [ -f "$example" ]; then
    install -m 0640 "$example" "$R$CONFIG"
  else
    install -m 0640 /dev/null "$R$CONFIG"
    cat >"$R$CONFIG" <<JSON
{
  "Log": { "MinimumLevel": "Information", "Directory": "$LOG_DIR" },
  "ManagementApi": { "BindAddress": "127.0.0.1", "Port": 4380, "TokenFile": "$TOKEN" }
}
JSON
  fi
  say "wrote $CONFIG"
}

write_token() {
  if [ -e "$R$TOKEN" ]; then
    chmod 0600 "$R$TOKEN"
    say "keeping existing $TOKEN"
    return 0
  fi
  # 32 random bytes, base64url without padding: the format ApiToken reads. umask makes it 0600 from the start.
  local token
  token=$(head -c 32 /dev/urandom | base64 -w0 | tr '+/' '-_' | tr -d '=')
  (umask 077 && printf '%s\n' "$token" >"$R$TOKEN")
  chmod 0600 "$R$TOKEN"
  say "created $TOKEN (mode 0600)"
}

ensure_user() {
  if [ -n "$prefix" ]; then
    say "--prefix given: not creating system user $SERVICE_USER; files stay owned by $(id -un)"
    return 0
  fi
  if getent passwd "$SERVICE_USER" >/dev/null 2>&1; then return 0; fi
  local nologin; nologin=$(command -v nologin 2>/dev/null || echo /usr/sbin/nologin)
  useradd --system --user-group --no-create-home --home-dir "$STATE_DIR" --shell "$nologin" \
    --comment "LispMobility agent" "$SERVICE_USER" || die "useradd $SERVICE_USER failed"
  say "created system user $SERVICE_USER"
}

install_program() {
  local source=$from_publish
  if [ -z "$source" ]; then
    staging=$(mktemp -d)
    publish "$staging"
    source=$staging
  fi
  [ -d "$source" ] || die "publish directory $source does not exist"
  [ -f "$source/lispmobility" ] || die "no 'lispmobility' executable in $source (is it a dotnet publish output of LispMobility.Agent?)"
  mkdir -p "$R$(dirname "$OPT_DIR")"
  # Copy beside the old tree, then swap, so a failed copy leaves the installed version intact.
  rm -rf "$R$OPT_DIR.new"
  cp -R "$source" "$R$OPT_DIR.new"
  chmod 0755 "$R$OPT_DIR.new" "$R$OPT_DIR.new/lispmobility"
  rm -rf "$R$OPT_DIR"
  mv "$R$OPT_DIR.new" "$R$OPT_DIR"
  mkdir -p "$R$(dirname "$BIN_LINK")"
  # The link names the final path (as with DESTDIR): under --prefix it resolves once the tree is copied to /.
  ln -sfn "$OPT_DIR/lispmobility" "$R$BIN_LINK"
  say "installed $OPT_DIR from $source"
}

# Why the service must not be enabled or started with the installed config yet; prints nothing when it may be.
config_problem() {
  if grep -q 'change-me' "$R$CONFIG"; then
    echo "$CONFIG still holds the example's 'change-me' keys (and its example sites, addresses and embedded Map-Server)"
    return 0
  fi
  local root output
  root=$(dotnet_root)
  if ! output=$(env ${root:+DOTNET_ROOT="$root"} "$R$OPT_DIR/lispmobility" config validate "$R$CONFIG" 2>&1); then
    printf "'lispmobility config validate' rejects %s:\n%s\n" "$CONFIG" "$output"
  fi
}

# Enables and (re)starts the service only when the config is no longer the example and passes `config validate`.
enable_if_ready() {
  local problem
  problem=$(config_problem)
  if [ -n "$problem" ]; then
    say "NOT enabling or starting $SERVICE: $problem"
    say "to start it:"
    say "  1. edit $CONFIG: your sites, addresses and interfaces, and your own keys instead of every change-me"
    say "  2. check it:  sudo lispmobility config validate $CONFIG"
    say "  3. start it:  sudo systemctl enable --now $SERVICE"
    say "     (an already running $SERVICE keeps its old program until: sudo systemctl restart $SERVICE)"
    return 0
  fi
  say "$CONFIG passes 'lispmobility config validate'"
  run_systemctl enable "$SERVICE.service"
  if [ "$start" -eq 1 ]; then
    run_systemctl restart "$SERVICE.service"
  fi
}

install_all() {
  ensure_user
  install_program
  write_config
  write_token
  mkdir -p "$R$STATE_DIR" "$R$LOG_DIR"
  chmod 0750 "$R$STATE_DIR" "$R$LOG_DIR"
  if user_exists; then
    chown root:"$SERVICE_USER" "$R$ETC_DIR" "$R$CONFIG"
    chown "$SERVICE_USER":"$SERVICE_USER" "$R$TOKEN" "$R$STATE_DIR" "$R$LOG_DIR"
  fi
  write_unit
  say "wrote $UNIT"
  if command -v systemd-analyze >/dev/null 2>&1 && [ -z "$prefix" ]; then
    systemd-analyze verify "$UNIT" || say "systemd-analyze verify reported problems (see above)"
  fi
  run_systemctl daemon-reload
  enable_if_ready
  say "done${prefix:+ (into $prefix)}"
}

if [ "$uninstall" -eq 1 ]; then uninstall; else install_all; fi
