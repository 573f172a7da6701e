#!/usr/bin/env bash
# The real-daemon test rig: kubo + containerd + the stargz snapshotter, private to one directory.
#
#   scripts/rig.sh install        apt packages + build kubo, the stargz tools, containerd 2.x, crictl,
#                                 crane, IPFS Cluster and the OCI conformance suite (cached)
#   scripts/rig.sh up [DIR]       start the daemons under DIR (default: new mktemp -d); prints DIR last
#   scripts/rig.sh env [DIR]      export lines pointing ipcr, ctr, ctr-remote and ipfs at the rig
#   scripts/rig.sh status [DIR]   exit 0 when every daemon of the rig answers
#   scripts/rig.sh wipe [DIR]     fresh containerd + snapshotter state, same kubo repo (IPFS kept)
#   scripts/rig.sh down [DIR]     stop everything the rig started, unmount, remove DIR
#                                 (IPCR_RIG_KEEP=1 or `down --keep` keeps DIR for post-mortems)
#   scripts/rig.sh kubo-init REPO a kubo repo set up like the rig's (offline, nothing phones out)
# IPCR_RIG_CONTAINERD=2 at `up` gives the rig containerd 2.x (built here) instead of Debian's 1.6;
# the choice is kept in DIR, so wipe and env follow it.
# Without DIR, env/status/wipe/down act on $IPCR_RIG_DIR if set (the rig your shell was pointed
# at), else on the most recent `up` (recorded in ${XDG_RUNTIME_DIR:-/tmp}/ipcr-rig.current).
#
# Everything is built from the Go module proxy, because CI reaches no other source of binaries.
set -euo pipefail

# ---- pins -------------------------------------------------------------------------------------
# kubo: the proxy lists no versions of github.com/ipfs/kubo but serves exact releases.
KUBO_VERSION=v0.38.2
# stargz-snapshotter: root, estargz and ipfs modules at one release. Its commands live in the
# untagged .../cmd module that the proxy cannot serve, so scripts/rig/stargz builds our own thin
# mains over the tagged libraries (see the comments there). containerd client libraries come in
# at the version stargz-snapshotter v0.19.1 requires (v2.4.2) and talk to Debian's containerd 1.6.
STARGZ_VERSION=v0.19.1
# containerd 2.x, the second target (IPCR_RIG_CONTAINERD=2): the daemon and its runc shim, at the
# version the stargz client libraries above use. Snapshotters there can rebase, so layers unpack
# side by side (src/pull/unpack-parallel.ts).
CONTAINERD2_VERSION=v2.4.2
# The OCI distribution-spec conformance suite: what a registry is checked against. Its module was
# never tagged, so the pin is a pseudo-version (main at 2026-08-31, the version the wire facts name;
# see scripts/rig/conformance/tools.go). It is a plain program configured by OCI_* variables.
CONFORMANCE_VERSION=v0.0.0-20260831232431-97274622c111
# crictl: pulls through containerd's CRI image service, as a kubelet does (hosts.toml, config_path).
CRI_TOOLS_VERSION=v1.34.0
# crane (go-containerregistry): a registry client independent of containerd and skopeo, to push,
# copy, tag, mount and delete against registries (ipcr's write side among them).
CRANE_VERSION=v0.22.1
# IPFS Cluster: ipfs-cluster-service (a peer beside each kubo node of the tests' private networks,
# CRDT consensus; src/testkit/cluster.ts) and ipfs-cluster-ctl (its REST API client). Like kubo, the
# proxy lists no versions of the module but serves this release (`go list -m ...@v1.1.6` resolves).
CLUSTER_VERSION=v1.1.6
# Debian packages: the daemon side. containerd 1.6.20 in bookworm.
# e2fsprogs: mkfs.ext4 for IPCR_RIG_CONTAINERD_FS=ext4 (bench/pull); Debian installs it by default.
# docker-registry (CNCF distribution 2.8) and skopeo: the registry as an image location
# (test/support/registry.ts); apache2-utils: htpasswd -B, the bcrypt entries the registry's basic
# auth needs (neither openssl nor Node makes bcrypt).
APT_PACKAGES=(containerd runc fuse3 iproute2 busybox-static curl tmux openssl e2fsprogs docker-registry skopeo apache2-utils)

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
CACHE="${IPCR_RIG_CACHE:-$HOME/.cache/ipcr-rig}"
KUBO_BIN="$CACHE/kubo-$KUBO_VERSION/bin"
STARGZ_BIN="$CACHE/stargz-$STARGZ_VERSION/bin"
CONTAINERD2_BIN="$CACHE/containerd-$CONTAINERD2_VERSION/bin"
CONFORMANCE_BIN="$CACHE/conformance-$CONFORMANCE_VERSION/bin"
CRI_TOOLS_BIN="$CACHE/cri-tools-$CRI_TOOLS_VERSION/bin"
CRANE_BIN="$CACHE/crane-$CRANE_VERSION/bin"
CLUSTER_BIN="$CACHE/ipfs-cluster-$CLUSTER_VERSION/bin"
CURRENT="${IPCR_RIG_CURRENT:-${XDG_RUNTIME_DIR:-/tmp}/ipcr-rig.current}"

log() { printf 'rig: %s\n' "$*" >&2; }
die() { printf 'rig: error: %s\n' "$*" >&2; exit 1; }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1fs", b - a }'; }

# ---- install ----------------------------------------------------------------------------------

install_apt() {
  local missing=() p
  for p in "${APT_PACKAGES[@]}"; do
    [[ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null)" == *'install ok installed'* ]] || missing+=("$p")
  done
  if ((${#missing[@]} == 0)); then
    log "apt: all present (${APT_PACKAGES[*]})"
    return
  fi
  log "apt: installing ${missing[*]}"
  local sudo=()
  [[ $(id -u) == 0 ]] || sudo=(sudo)
  # Other jobs on the machine may hold the dpkg lock: wait for it instead of failing.
  "${sudo[@]}" apt-get -o DPkg::Lock::Timeout=600 update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get -o DPkg::Lock::Timeout=600 \
    install -y -qq --no-install-recommends "${missing[@]}" >&2
}

# A build is reused when the fingerprint of everything that shapes it (module files, our Go
# sources, the Go toolchain, the build flags) matches the one stored next to the binaries.
fingerprint() {
  local dir="$1"; shift
  { (cd "$dir" && find . -type f \( -name '*.go' -o -name go.mod -o -name go.sum \) -print0 |
      sort -z | xargs -0 sha256sum); go version; echo "$*"; } | sha256sum | cut -c1-16
}

# go_build NAME MODULE_DIR OUT_DIR [go build args...]
go_build() {
  local name="$1" mod="$2" out="$3"; shift 3
  local fp; fp="$(fingerprint "$mod" "$@")"
  if [[ -f "$out/.fingerprint" && "$(cat "$out/.fingerprint")" == "$fp" ]]; then
    log "$name: cached in $out"
    return
  fi
  local t; t="$(now)"
  log "$name: building into $out (first time takes minutes)"
  mkdir -p "$out"
  rm -f "$out/.fingerprint"
  # -mod=readonly: go.sum is committed, a build never rewrites it. CGO off: static binaries that
  # need no C toolchain; nothing we build needs cgo.
  (cd "$mod" && CGO_ENABLED=0 GOFLAGS="-trimpath -buildvcs=false -mod=readonly" GOTOOLCHAIN=local \
    go build -ldflags='-s -w' -o "$out/" "$@") >&2
  echo "$fp" >"$out/.fingerprint"
  log "$name: built in $(since "$t")"
}

cmd_install() {
  local t0; t0="$(now)"
  install_apt
  command -v go >/dev/null || die "the Go toolchain is needed (go1.26+) to build kubo and the stargz tools"
  mkdir -p "$CACHE"
  # Two installs at once (a developer and a test run) would race on the same output directory.
  exec 9>"$CACHE/.lock"
  flock 9
  # cockroachdb/swiss (via pebble) gates its runtime hooks on go1.20..go1.25; the tag opts in for
  # go1.26, whose map type layout (internal/abi.MapType: Type, Key, Elem, Group, Hasher) is the
  # one that code reads. Without it kubo does not compile on go1.26.
  go_build "kubo $KUBO_VERSION" "$HERE/rig/kubo" "$KUBO_BIN" -tags untested_go_version github.com/ipfs/kubo/cmd/ipfs
  go_build "stargz $STARGZ_VERSION" "$HERE/rig/stargz" "$STARGZ_BIN" ./containerd-stargz-grpc ./ctr-remote
  # Without cgo there is no btrfs, devmapper or zfs snapshotter; the rig uses overlayfs and stargz.
  go_build "containerd $CONTAINERD2_VERSION" "$HERE/rig/containerd" "$CONTAINERD2_BIN" -tags no_btrfs,no_devmapper,no_zfs \
    github.com/containerd/containerd/v2/cmd/containerd github.com/containerd/containerd/v2/cmd/containerd-shim-runc-v2
  # `go build`, not `go test -c`: the suite is a main package; its test binary still runs it but
  # marks every report "legacy" and warns that `go test` is deprecated.
  go_build "conformance $CONFORMANCE_VERSION" "$HERE/rig/conformance" "$CONFORMANCE_BIN" \
    github.com/opencontainers/distribution-spec/conformance
  # The second -ldflags replaces go_build's '-s -w' (the flag package keeps the last), so it says
  # them again; the -X gives `crictl --version` its release instead of "unknown".
  go_build "crictl $CRI_TOOLS_VERSION" "$HERE/rig/cri-tools" "$CRI_TOOLS_BIN" \
    "-ldflags=-s -w -X sigs.k8s.io/cri-tools/pkg/version.Version=$CRI_TOOLS_VERSION" sigs.k8s.io/cri-tools/cmd/crictl
  # Likewise for `crane version`: built from our module, its build info would say "(devel)".
  go_build "crane $CRANE_VERSION" "$HERE/rig/crane" "$CRANE_BIN" \
    "-ldflags=-s -w -X github.com/google/go-containerregistry/cmd/crane/cmd.Version=$CRANE_VERSION" \
    github.com/google/go-containerregistry/cmd/crane
  # Both report their release without -X: the service reads version.Version (1.1.6), the ctl a
  # constant of its own. Its pebble datastore's cockroachdb/swiss supports go1.26 at the version
  # this release requires, so no untested_go_version tag here.
  go_build "ipfs-cluster $CLUSTER_VERSION" "$HERE/rig/ipfs-cluster" "$CLUSTER_BIN" \
    github.com/ipfs-cluster/ipfs-cluster/cmd/ipfs-cluster-service github.com/ipfs-cluster/ipfs-cluster/cmd/ipfs-cluster-ctl
  flock -u 9
  log "install done in $(since "$t0")"
}

# ---- rig directory helpers --------------------------------------------------------------------

# resolve_dir [DIR]: the rig to act on.
resolve_dir() {
  local d="${1:-${IPCR_RIG_DIR:-}}"
  if [[ -z "$d" ]]; then
    [[ -f "$CURRENT" ]] || die "no rig given and none recorded in $CURRENT"
    d="$(cat "$CURRENT")"
  fi
  [[ -d "$d" ]] || die "rig directory $d does not exist"
  (cd "$d" && pwd)
}

# alive NAME: the pid in DIR/NAME.pid runs and is still the program we started (pids get reused).
alive() {
  local f="$DIR/$1.pid" pid
  [[ -f "$f" ]] || return 1
  pid="$(cat "$f")"
  [[ -r "/proc/$pid/cmdline" ]] || return 1
  # Read into a variable, not `tr | grep -q`: under pipefail, grep -q quitting early makes tr die
  # of SIGPIPE and the pipeline fail, which made a live daemon look dead now and then.
  local cmdline state i
  for ((i = 0; i < 20; i++)); do
    cmdline="$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null)" || return 1
    if [[ -n "$cmdline" ]]; then
      [[ "$cmdline" == *"$2"* ]] && return 0
      return 1
    fi
    # An empty cmdline is a zombie (dead, not yet reaped) or a process inside execve, which reads
    # empty for a moment: under load, a daemon that setsid was just exec'ing looked dead (CI, 2026-12-03).
    state="$(sed 's/.*) //' "/proc/$pid/stat" 2>/dev/null)" || return 1
    [[ "${state%% *}" == Z ]] && return 1
    sleep 0.05
  done
  return 1
}

# start NAME MATCH cmd...: detach a daemon into its own session, log to DIR/NAME.log.
start() {
  local name="$1"; shift
  setsid "$@" >>"$DIR/$name.log" 2>&1 </dev/null &
  local pid=$! i cmdline
  echo "$pid" >"$DIR/$name.pid"
  # Until the forked shell has exec'd setsid and setsid the daemon, /proc/PID/cmdline is this
  # script's, then setsid's (which names the daemon too), and alive() would take a daemon that is
  # merely starting (slow under load) for one that died. Wait for the daemon's own argv[0].
  for ((i = 0; i < 200; i++)); do
    cmdline="$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null)" || break
    [[ "$cmdline" == "$1 "* ]] && break
    sleep 0.025
  done
}

# wait_for WHAT SECONDS NAME MATCH cmd...: poll cmd until it succeeds, failing early if the daemon died.
wait_for() {
  local what="$1" secs="$2" name="$3" match="$4"; shift 4
  local deadline=$((SECONDS + secs))
  until "$@" >/dev/null 2>&1; do
    if ! alive "$name" "$match"; then
      tail -n 30 "$DIR/$name.log" >&2 || true
      die "$what: the daemon exited (log above: $DIR/$name.log)"
    fi
    ((SECONDS < deadline)) || { tail -n 30 "$DIR/$name.log" >&2 || true; die "$what: not ready after ${secs}s"; }
    sleep 0.1
  done
}

# stop NAME MATCH: TERM, then KILL after a grace period.
stop() {
  local name="$1" match="$2" pid i
  if alive "$name" "$match"; then
    pid="$(cat "$DIR/$name.pid")"
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 100; i++)); do
      alive "$name" "$match" || break
      sleep 0.1
    done
    if alive "$name" "$match"; then
      log "$name ($pid) ignored TERM for 10s; killing"
      kill -KILL "$pid" 2>/dev/null || true
      sleep 0.2
    fi
  fi
  rm -f "$DIR/$name.pid"
}

# Processes that outlive containerd: its runc shims (and their containers) for this rig's socket.
kill_shims() {
  local sock="$DIR/containerd/containerd.sock" p cmdline
  for p in /proc/[0-9]*; do
    [[ -r "$p/cmdline" ]] || continue
    cmdline="$(tr '\0' ' ' <"$p/cmdline" 2>/dev/null)" || continue
    if [[ "$cmdline" =~ containerd-shim.*\ -address\ "$sock"(\ |$) ]]; then
      kill_tree "${p#/proc/}"
    fi
  done
}

kill_tree() {
  local c
  for c in $(ps -o pid= --ppid "$1" 2>/dev/null); do kill_tree "$c"; done
  kill -KILL "$1" 2>/dev/null || true
}

# Unmount everything under DIR, deepest first (FUSE layers, overlay rootfs, snapshot bind mounts).
unmount_all() {
  local m
  while read -r m; do
    umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || log "could not unmount $m"
  done < <(awk -v d="$DIR/" '{ gsub(/\\040/, " ", $5); if (index($5 "/", d) == 1) print $5 }' /proc/self/mountinfo | sort -r)
}

# ---- the daemons ------------------------------------------------------------------------------

# What /proc/PID/cmdline must contain for a pid file to still be ours.
IPFS_MATCH="ipfs daemon"
STARGZ_MATCH="containerd-stargz-grpc"
CTRD_MATCH="" # set with DIR: containerd --config DIR/containerd/config.toml

# A kubo repo that never reaches beyond this machine: default Import settings, loopback ports,
# no swarm, and none of the features that phone out. Also used by tests that run a kubo of their own.
init_kubo_repo() {
  local repo="$1"
  [[ -f "$repo/config" ]] && return 0
  mkdir -p "$repo"
  (
    export IPFS_PATH="$repo"
    # Default init: no profile, so Import.* stays at kubo's defaults (wire-format.md section 2).
    "$KUBO_BIN/ipfs" init --empty-repo >"$repo.init.log" 2>&1 || { cat "$repo.init.log" >&2; die "ipfs init failed"; }
    # Port 0: the kernel picks free loopback ports; kubo writes the real API address to
    # $IPFS_PATH/api and the gateway URL to $IPFS_PATH/gateway. No swarm: offline.
    "$KUBO_BIN/ipfs" config Addresses.API /ip4/127.0.0.1/tcp/0
    "$KUBO_BIN/ipfs" config Addresses.Gateway /ip4/127.0.0.1/tcp/0
    "$KUBO_BIN/ipfs" config --json Addresses.Swarm '[]'
    # Even with --offline, kubo 0.38 would reach out to the internet: AutoConf fetches its
    # bootstrap/DNS/routing defaults from a web server and telemetry reports home. Turn both off
    # and replace the "auto" placeholders AutoConf would have filled in.
    "$KUBO_BIN/ipfs" config --json AutoConf.Enabled false
    "$KUBO_BIN/ipfs" config --json Bootstrap '[]'
    "$KUBO_BIN/ipfs" config --json DNS.Resolvers '{}'
    "$KUBO_BIN/ipfs" config --json Routing.DelegatedRouters '[]'
    "$KUBO_BIN/ipfs" config --json Ipns.DelegatedPublishers '[]'
    "$KUBO_BIN/ipfs" config Plugins.Plugins.telemetry.Config.Mode off
  )
}

# `kubo-init REPO`: a fresh repo set up as the rig's, for a test's own daemon.
cmd_kubo_init() {
  [[ $# -eq 1 ]] || die "usage: rig.sh kubo-init REPO"
  init_kubo_repo "$1"
}

start_ipfs() {
  export IPFS_PATH="$DIR/ipfs"
  init_kubo_repo "$IPFS_PATH"
  rm -f "$IPFS_PATH/api" "$IPFS_PATH/gateway" # stale after a crash
  start ipfs "$KUBO_BIN/ipfs" daemon --offline
  wait_for "kubo API" 60 ipfs "$IPFS_MATCH" ipfs_api_ok
}

ipfs_api_url() {
  local a; a="$(cat "$DIR/ipfs/api")" # /ip4/127.0.0.1/tcp/PORT
  printf 'http://127.0.0.1:%s' "${a##*/}"
}

ipfs_api_ok() {
  [[ -s "$DIR/ipfs/api" && -s "$DIR/ipfs/gateway" ]] &&
    curl -fsS -X POST --max-time 2 "$(ipfs_api_url)/api/v0/version" >/dev/null
}

ipfs_gateway_url() {
  local g; g="$(tr -d '\n' <"$DIR/ipfs/gateway")" # http://127.0.0.1:PORT
  # Always 127.0.0.1: kubo redirects "localhost" to subdomain gateways.
  printf 'http://127.0.0.1:%s' "${g##*:}"
}

start_stargz() {
  mkdir -p "$DIR/stargz/root"
  # Upstream config keys (service.Config + ipfs). The snapshotter finds kubo through IPFS_PATH.
  # Tests add their own as DIR/stargz/config.d/*.toml, read at the next wipe or up: e.g. registry
  # mode (`ipfs = false`, which replaces the default below) with [[resolver.host."HOST".mirrors]]
  # naming a registry the test started. The rig's tests remove them and wipe again when done.
  local extra ipfs_line='ipfs = true'
  if grep -qsE '^[[:space:]]*ipfs[[:space:]]*=' "$DIR"/stargz/config.d/*.toml; then ipfs_line=''; fi
  printf '%s\n' "$ipfs_line" >"$DIR/stargz/config.toml"
  for extra in "$DIR"/stargz/config.d/*.toml; do
    if [[ -f "$extra" ]]; then { echo; cat "$extra"; } >>"$DIR/stargz/config.toml"; fi
  done
  rm -f "$DIR/stargz/stargz.sock"
  IPFS_PATH="$DIR/ipfs" start stargz "$STARGZ_BIN/containerd-stargz-grpc" \
    --address "$DIR/stargz/stargz.sock" --config "$DIR/stargz/config.toml" \
    --root "$DIR/stargz/root" --log-level "${IPCR_RIG_STARGZ_LOG_LEVEL:-debug}"
  wait_for "stargz snapshotter socket" 30 stargz "$STARGZ_MATCH" test -S "$DIR/stargz/stargz.sock"
}

start_containerd() {
  mkdir -p "$DIR/containerd/root" "$DIR/containerd/state" "$DIR/certs.d"
  # IPCR_RIG_CONTAINERD_FS=ext4 (bench/pull sets it): containerd's root on an ext4 of its own, with a
  # journal, on a loop device made afresh by every up and wipe. This project's VMs have a root ext4
  # without a journal, where ext4 will not reuse an inode deleted in the last minute or more and steps
  # over each one on every create: after a wipe deleted the last pull's files, the next pull's unpack
  # ran 5-20x slower (perf: recently_deleted under ext4_create), by an amount that drifted every round.
  if [[ "${IPCR_RIG_CONTAINERD_FS:-}" == ext4 ]] && ! mountpoint -q "$DIR/containerd/root"; then
    rm -f "$DIR/containerd-root.img"
    truncate -s 16G "$DIR/containerd-root.img" # sparse: takes what is written
    # Inode tables and journal zeroed now (free on a sparse file), not by the kernel's ext4lazyinit
    # thread in the first seconds after mount, which is when a benchmark's pull runs.
    mkfs.ext4 -q -F -E lazy_itable_init=0,lazy_journal_init=0 "$DIR/containerd-root.img" || die "mkfs.ext4 failed for containerd's root"
    mount -o loop "$DIR/containerd-root.img" "$DIR/containerd/root" || die "could not mount containerd's root ($DIR/containerd-root.img)"
  fi
  local bin=containerd path="$PATH"
  if [[ "$(containerd_major)" == 2 ]]; then
    bin="$CONTAINERD2_BIN/containerd"
    path="$CONTAINERD2_BIN:$PATH" # its own runc shim first
    cat >"$DIR/containerd/config.toml" <<EOF
# Private containerd 2.x for the ipcr test rig (config format version 3).
version = 3
root = "$DIR/containerd/root"
state = "$DIR/containerd/state"
# CRI is on for its image service (crictl pull, as a kubelet pulls); no pods run here, so the CNI
# and sandbox image it would also want are never asked for.

[plugins."io.containerd.cri.v1.images".registry]
  # hosts.toml per registry (containerd's hosts.md), read afresh on every pull: tests drop files in.
  config_path = "$DIR/certs.d"

[grpc]
  address = "$DIR/containerd/containerd.sock"

[ttrpc]
  address = "$DIR/containerd/containerd.sock.ttrpc"

[proxy_plugins]
  [proxy_plugins.stargz]
    type = "snapshot"
    address = "$DIR/stargz/stargz.sock"
EOF
  else
  cat >"$DIR/containerd/config.toml" <<EOF
# Private containerd for the ipcr test rig (config format version 2 = containerd 1.x).
version = 2
root = "$DIR/containerd/root"
state = "$DIR/containerd/state"
# CRI is on for its image service (crictl pull, as a kubelet pulls); no pods run here, so the CNI
# and sandbox image it would also want are never asked for.

[plugins."io.containerd.grpc.v1.cri".registry]
  # hosts.toml per registry (containerd's hosts.md), read afresh on every pull: tests drop files in.
  config_path = "$DIR/certs.d"

[grpc]
  address = "$DIR/containerd/containerd.sock"

[ttrpc]
  address = "$DIR/containerd/containerd.sock.ttrpc"

[plugins."io.containerd.internal.v1.opt"]
  path = "$DIR/containerd/opt"

[proxy_plugins]
  [proxy_plugins.stargz]
    type = "snapshot"
    address = "$DIR/stargz/stargz.sock"
EOF
  fi
  # crictl's own config (CRI_CONFIG_FILE in env): without it, every call warns that /etc/crictl.yaml is missing.
  cat >"$DIR/crictl.yaml" <<EOF
runtime-endpoint: unix://$DIR/containerd/containerd.sock
image-endpoint: unix://$DIR/containerd/containerd.sock
EOF
  rm -f "$DIR/containerd/containerd.sock" "$DIR/containerd/containerd.sock.ttrpc"
  PATH="$path" start containerd "$bin" --config "$DIR/containerd/config.toml" --log-level "${IPCR_RIG_CONTAINERD_LOG_LEVEL:-info}"
  wait_for "containerd" 60 containerd "$CTRD_MATCH" ctr --address "$DIR/containerd/containerd.sock" version
}

# 1 (Debian's) or 2 (built here): what `up` chose, recorded in DIR for every later command.
containerd_major() {
  cat "$DIR/containerd.major" 2>/dev/null || echo 1
}

write_env() {
  local q
  q() { printf "'%s'" "${1//\'/\'\\\'\'}"; }
  {
    echo "export IPCR_RIG_DIR=$(q "$DIR")"
    echo "export IPCR_RIG_BIN=$(q "$KUBO_BIN:$STARGZ_BIN:$CRI_TOOLS_BIN")"
    echo "export IPCR_RIG_CONFORMANCE=$(q "$CONFORMANCE_BIN/conformance")"
    echo "export IPCR_RIG_CRANE=$(q "$CRANE_BIN/crane")"
    echo "export IPCR_RIG_CLUSTER_SERVICE=$(q "$CLUSTER_BIN/ipfs-cluster-service")"
    echo "export IPCR_RIG_CLUSTER_CTL=$(q "$CLUSTER_BIN/ipfs-cluster-ctl")"
    echo "export IPCR_RIG_CERTS_D=$(q "$DIR/certs.d")"
    echo "export CRI_CONFIG_FILE=$(q "$DIR/crictl.yaml")"
    echo "export CONTAINERD_ADDRESS=$(q "$DIR/containerd/containerd.sock")"
    echo "export IPFS_PATH=$(q "$DIR/ipfs")"
    echo "export IPCR_RIG_IPFS_API=$(q "$(cat "$DIR/ipfs/api")")"
    echo "export IPCR_RIG_IPFS_API_URL=$(q "$(ipfs_api_url)")"
    echo "export IPCR_RIG_GATEWAY=$(q "$(ipfs_gateway_url)")"
    echo "export IPCR_RIG_STARGZ_SOCK=$(q "$DIR/stargz/stargz.sock")"
    echo "export IPCR_RIG_STARGZ_ROOT=$(q "$DIR/stargz/root")"
    echo "export IPCR_RIG_STARGZ_LOG=$(q "$DIR/stargz.log")"
    echo "export IPCR_RIG_CONTAINERD_LOG=$(q "$DIR/containerd.log")"
    echo "export IPCR_RIG_IPFS_LOG=$(q "$DIR/ipfs.log")"
    echo "export IPCR_RIG_CONTAINERD=$(q "$(containerd_major)")"
    echo 'export PATH="$IPCR_RIG_BIN:$PATH"'
  } >"$DIR/env"
}

# ---- commands ---------------------------------------------------------------------------------

set_dir() {
  DIR="$1"
  CTRD_MATCH="containerd --config $DIR/containerd/config.toml"
}

cmd_up() {
  local t0; t0="$(now)"
  [[ -x "$KUBO_BIN/ipfs" && -x "$STARGZ_BIN/containerd-stargz-grpc" ]] || die "run 'scripts/rig.sh install' first"
  local d="${1:-${IPCR_RIG_DIR:-}}"
  if [[ -z "$d" ]]; then
    d="$(mktemp -d "${TMPDIR:-/tmp}/ipcr-rig.XXXXXX")"
  fi
  mkdir -p "$d"
  set_dir "$(cd "$d" && pwd)"
  # unix socket paths are limited to 107 bytes
  ((${#DIR} <= 60)) || die "rig directory path too long for unix sockets: $DIR"
  if alive ipfs "$IPFS_MATCH" && alive stargz "$STARGZ_MATCH" && alive containerd "$CTRD_MATCH"; then
    log "rig already up in $DIR"
  else
    if alive ipfs "$IPFS_MATCH" || alive stargz "$STARGZ_MATCH" || alive containerd "$CTRD_MATCH"; then
      die "rig in $DIR is half up; run 'scripts/rig.sh down --keep $DIR' first"
    fi
    # A daemon that fails to come up must not leave the others running: stop what started and
    # keep DIR so its logs can be read.
    trap 'log "up failed; stopping what started, logs kept in $DIR"; stop_all' EXIT
    case "${IPCR_RIG_CONTAINERD:-1}" in
      1) rm -f "$DIR/containerd.major" ;;
      2) [[ -x "$CONTAINERD2_BIN/containerd" ]] || die "run 'scripts/rig.sh install' first (containerd $CONTAINERD2_VERSION)"
         echo 2 >"$DIR/containerd.major" ;;
      *) die "IPCR_RIG_CONTAINERD must be 1 (Debian's containerd) or 2 (containerd $CONTAINERD2_VERSION)" ;;
    esac
    start_ipfs
    start_stargz
    start_containerd
    write_env
    trap - EXIT
    log "up in $(since "$t0")"
  fi
  echo "$DIR" >"$CURRENT"
  echo "$DIR"
}

cmd_env() {
  set_dir "$(resolve_dir "${1:-}")"
  [[ -f "$DIR/env" ]] || die "$DIR has no env file (not up?)"
  cat "$DIR/env"
}

cmd_status() {
  set_dir "$(resolve_dir "${1:-}")"
  local ok=0
  if alive ipfs "$IPFS_MATCH" && ipfs_api_ok; then log "kubo: ok ($(ipfs_api_url))"; else log "kubo: DOWN"; ok=1; fi
  if alive stargz "$STARGZ_MATCH" && [[ -S "$DIR/stargz/stargz.sock" ]]; then log "stargz: ok"; else log "stargz: DOWN"; ok=1; fi
  if alive containerd "$CTRD_MATCH" && ctr --address "$DIR/containerd/containerd.sock" version >/dev/null 2>&1; then
    log "containerd: ok"
  else
    log "containerd: DOWN"; ok=1
  fi
  return $ok
}

# Reverse start order: the consumer first, so nothing calls into a stopped daemon.
stop_all() {
  stop containerd "$CTRD_MATCH"
  kill_shims
  stop stargz "$STARGZ_MATCH"
  stop ipfs "$IPFS_MATCH"
  unmount_all
}

# wipe: containerd's metadata and the snapshotter's snapshots go together (containerd names
# snapshots by a counter kept in its own metadata, so keeping one without the other collides).
cmd_wipe() {
  set_dir "$(resolve_dir "${1:-}")"
  local t0; t0="$(now)"
  stop containerd "$CTRD_MATCH"
  kill_shims
  stop stargz "$STARGZ_MATCH"
  unmount_all
  rm -rf "$DIR/containerd/root" "$DIR/containerd/state" "$DIR/stargz/root" "$DIR/containerd-root.img"
  start_stargz
  start_containerd
  log "wiped containerd + snapshotter in $(since "$t0") (kubo kept)"
}

cmd_down() {
  local keep="${IPCR_RIG_KEEP:-0}"
  if [[ "${1:-}" == --keep ]]; then keep=1; shift; fi
  set_dir "$(resolve_dir "${1:-}")"
  stop_all
  if [[ -f "$CURRENT" && "$(cat "$CURRENT")" == "$DIR" ]]; then rm -f "$CURRENT"; fi
  if [[ "$keep" == 1 ]]; then
    log "stopped; kept $DIR"
  else
    rm -rf "$DIR"
    log "stopped; removed $DIR"
  fi
}

DIR=""
case "${1:-}" in
  install) shift; cmd_install "$@" ;;
  up) shift; cmd_up "$@" ;;
  env) shift; cmd_env "$@" ;;
  status) shift; cmd_status "$@" ;;
  wipe) shift; cmd_wipe "$@" ;;
  down) shift; cmd_down "$@" ;;
  kubo-init) shift; cmd_kubo_init "$@" ;;
  *) sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
esac
