#!/usr/bin/env bash
# deploy/node.sh: bring a machine into an ipcr cluster, or take it out.
#
#   deploy/node.sh up   --swarm-key FILE --cluster-secret HEX [options]
#   deploy/node.sh down [--state DIR] [--foreground]
#
# `up` sets up and starts, on this machine (or network namespace):
#   1. kubo in a private network: the swarm key, no public bootstrap, AutoConf, relays, NAT or
#      mDNS; joined to the --peer nodes (connected once its API answers, then stored as its
#      bootstrap list, so a restart rejoins them);
#   2. an IPFS Cluster peer beside it (CRDT consensus, the cluster secret, re-pinning on peer loss
#      on: disable_repinning = false), joined to the --cluster-peer peers;
#   3. `ipcr registry serve` over that kubo, pinning what is pushed through the cluster, with gc
#      on a timer when --gc-keep-size is given;
#   4. containerd's hosts.toml for each --upstream, naming ipcr's registry first.
# With systemd (and without --foreground) each daemon is a unit (ipcr-kubo, ipcr-cluster,
# ipcr-registry) enabled at boot; with --foreground, or where systemd does not run (containers,
# network namespaces in tests), they are started here, detached, with pid files and logs in the
# state dir. Running `up` again on a set-up node restarts nothing that runs and changes no identity.
#
# Options (and defaults):
#   --swarm-key FILE          the private network's swarm.key (required the first time)
#   --cluster-secret HEX      the cluster's 32-byte secret, hex (required the first time)
#   --peer MULTIADDR          a kubo node to join, /ip4/…/tcp/4001/p2p/ID (repeatable)
#   --cluster-peer MULTIADDR  a cluster peer to join, /ip4/…/tcp/9096/p2p/ID (repeatable)
#   --ip ADDR                 the address kubo, the cluster and the registry listen on (127.0.0.1)
#   --name NAME               the cluster peer's name (the host name)
#   --state DIR               where repos, pid files and logs live (/var/lib/ipcr)
#   --registry-listen H:P     ipcr's registry (ADDR:5050)
#   --allow-push              let clients push to ipcr's registry (on loopback; beyond it add auth flags via --registry-arg)
#   --registry-arg ARG        one more argument for `ipcr registry serve` (repeatable)
#   --replication-min N, --replication-max N   copies the cluster keeps of each pushed image
#   --gc-keep-size SIZE, --gc-keep-age DURATION   gc on the registry's timer
#   --upstream HOST           a registry whose pulls go through ipcr first (repeatable)
#   --certs-d DIR             containerd's config_path (/etc/containerd/certs.d)
#   --monitor-interval D      how often cluster peers report to each other; a peer silent for
#                             twice this is gone and its pins are re-pinned elsewhere (15s).
#                             Given, it also shortens the cluster's other timings so a lost
#                             copy is re-pinned within seconds (tests, small labs): metrics live
#                             6 s, pubsub beats every 1 s and floods, CRDT heads rebroadcast
#                             every 2 s, failed pins are retried every 10 s, a pin gives up after
#                             30 s. Without it, IPFS Cluster's defaults stay (30 s, 10 s, 1 min,
#                             12 min, 2 min), fit for real networks.
#   --foreground              never use systemd
# Binaries: IPFS_BIN (ipfs), CLUSTER_SERVICE_BIN (ipfs-cluster-service), IPCR_BIN (ipcr), from
# PATH unless set.
set -euo pipefail

IPFS_BIN=${IPFS_BIN:-ipfs}
CLUSTER_SERVICE_BIN=${CLUSTER_SERVICE_BIN:-ipfs-cluster-service}
IPCR_BIN=${IPCR_BIN:-ipcr}

die() { echo "node.sh: $*" >&2; exit 2; }

cmd=${1:-}
[ -n "$cmd" ] || die "usage: deploy/node.sh up|down [options] (see the header of this file)"
shift

ip=127.0.0.1 name=$(hostname) state=/var/lib/ipcr registry_listen='' swarm_key='' secret=''
certs_d=/etc/containerd/certs.d monitor=15s fast=0 foreground=0 allow_push=0
repl_min='' repl_max='' gc_size='' gc_age=''
peers=() cluster_peers=() upstreams=() registry_args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --swarm-key) swarm_key=$2; shift 2 ;;
    --cluster-secret) secret=$2; shift 2 ;;
    --peer) peers+=("$2"); shift 2 ;;
    --cluster-peer) cluster_peers+=("$2"); shift 2 ;;
    --ip) ip=$2; shift 2 ;;
    --name) name=$2; shift 2 ;;
    --state) state=$2; shift 2 ;;
    --registry-listen) registry_listen=$2; shift 2 ;;
    --allow-push) allow_push=1; shift ;;
    --registry-arg) registry_args+=("$2"); shift 2 ;;
    --replication-min) repl_min=$2; shift 2 ;;
    --replication-max) repl_max=$2; shift 2 ;;
    --gc-keep-size) gc_size=$2; shift 2 ;;
    --gc-keep-age) gc_age=$2; shift 2 ;;
    --upstream) upstreams+=("$2"); shift 2 ;;
    --certs-d) certs_d=$2; shift 2 ;;
    --monitor-interval) monitor=$2; fast=1; shift 2 ;;
    --foreground) foreground=1; shift ;;
    *) die "unknown option $1 (see the header of this file)" ;;
  esac
done
registry_listen=${registry_listen:-$ip:5050}
export IPFS_PATH=$state/ipfs IPFS_CLUSTER_PATH=$state/cluster
api=/ip4/$ip/tcp/5001
cluster_api=http://$ip:9094

use_systemd() { [ "$foreground" = 0 ] && [ -d /run/systemd/system ] && command -v systemctl >/dev/null; }

# start NAME CMD…: a daemon as a systemd unit, or detached here with a pid file and a log.
start() {
  local unit=$1; shift
  if use_systemd; then
    cat >"/etc/systemd/system/ipcr-$unit.service" <<EOF
[Unit]
Description=ipcr node: $unit
After=network-online.target

[Service]
Environment=IPFS_PATH=$IPFS_PATH IPFS_CLUSTER_PATH=$IPFS_CLUSTER_PATH LIBP2P_FORCE_PNET=1
ExecStart=$(printf '%q ' "$@")
Restart=on-failure

[Install]
WantedBy=multi-user.target
EOF
    systemctl daemon-reload
    systemctl enable --now "ipcr-$unit.service" >/dev/null
    return
  fi
  local pidfile=$state/$unit.pid
  if [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then return; fi
  LIBP2P_FORCE_PNET=1 setsid "$@" >>"$state/$unit.log" 2>&1 </dev/null &
  echo $! >"$pidfile"
}

stop() {
  local unit=$1
  if use_systemd && [ -f "/etc/systemd/system/ipcr-$unit.service" ]; then systemctl disable --now "ipcr-$unit.service" >/dev/null 2>&1 || true; return; fi
  local pidfile=$state/$unit.pid
  [ -f "$pidfile" ] || return 0
  local pid; pid=$(cat "$pidfile")
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -9 "$pid" 2>/dev/null || true
  rm -f "$pidfile"
}

# wait_for WHAT CMD…: until CMD succeeds (60 s), else the unit's log and a failure.
wait_for() {
  local what=$1; shift
  for _ in $(seq 600); do "$@" >/dev/null 2>&1 && return 0; sleep 0.1; done
  tail -20 "$state/$what.log" 2>/dev/null >&2 || true
  die "$what did not come up"
}

# set_json FILE KEY=JSON…: set keys (dotted paths) of a JSON file, with the node that runs ipcr.
set_json() {
  local file=$1; shift
  node -e '
    const fs = require("fs"); const [file, ...sets] = process.argv.slice(1)
    const c = JSON.parse(fs.readFileSync(file, "utf8"))
    for (const s of sets) {
      const i = s.indexOf("="); const path = s.slice(0, i).split("."); let o = c
      for (const k of path.slice(0, -1)) o = o[k] ??= {}
      o[path[path.length - 1]] = JSON.parse(s.slice(i + 1))
    }
    fs.writeFileSync(file + ".tmp", JSON.stringify(c, null, 2)); fs.renameSync(file + ".tmp", file)
  ' "$file" "$@"
}

up_kubo() {
  if [ ! -f "$IPFS_PATH/config" ]; then
    [ -n "$swarm_key" ] || die "--swarm-key FILE is needed to set up kubo"
    mkdir -p "$IPFS_PATH"
    # Default init: Import.* stays at kubo's defaults, so a blob has the same CID on every node.
    "$IPFS_BIN" init --empty-repo >/dev/null
    set_json "$IPFS_PATH/config" \
      "Addresses.API=\"$api\"" "Addresses.Gateway=\"/ip4/$ip/tcp/8080\"" "Addresses.Swarm=[\"/ip4/$ip/tcp/4001\"]" \
      'Bootstrap=[]' 'AutoConf.Enabled=false' 'DNS.Resolvers={}' 'Routing.DelegatedRouters=[]' 'Ipns.DelegatedPublishers=[]' \
      'Plugins.Plugins.telemetry.Config.Mode="off"' 'Discovery.MDNS.Enabled=false' 'Swarm.DisableNatPortMap=true' \
      'Swarm.RelayClient.Enabled=false' 'Swarm.RelayService.Enabled=false' 'AutoNAT.ServiceMode="disabled"' 'AutoTLS.Enabled=false' \
      'Routing.Type="dht"' 'Swarm.Transports.Network.QUIC=false' 'Swarm.Transports.Network.WebTransport=false' \
      'Swarm.Transports.Network.WebRTCDirect=false' 'Swarm.Transports.Network.Websocket=false'
  fi
  if [ -n "$swarm_key" ]; then install -m 600 "$swarm_key" "$IPFS_PATH/swarm.key"; fi
  [ -f "$IPFS_PATH/swarm.key" ] || die "no swarm.key in $IPFS_PATH: give --swarm-key FILE"
  start kubo "$IPFS_BIN" daemon
  wait_for kubo "$IPFS_BIN" --api "$api" id
  # Joined once the API answers, then remembered: kubo 0.38's Bitswap misses peers that connect
  # while it starts (ipfs/boxo#83), so the first connections are made now, not from the bootstrap list.
  for p in "${peers[@]}"; do
    "$IPFS_BIN" --api "$api" swarm connect "$p" >/dev/null 2>&1 || echo "node.sh: could not reach kubo peer $p now; it stays in the bootstrap list" >&2
  done
  if [ ${#peers[@]} -gt 0 ]; then "$IPFS_BIN" --api "$api" bootstrap add "${peers[@]}" >/dev/null; fi
}

up_cluster() {
  if [ ! -f "$IPFS_CLUSTER_PATH/service.json" ]; then
    [ -n "$secret" ] || die "--cluster-secret HEX is needed to set up the cluster peer"
    mkdir -p "$IPFS_CLUSTER_PATH"
    CLUSTER_SECRET=$secret "$CLUSTER_SERVICE_BIN" init --consensus crdt >/dev/null 2>&1
  fi
  # Re-pinning on: when a holder goes, its pins are allocated to others to keep each minimum.
  # Peers report every --monitor-interval; one silent for twice that is taken for gone.
  set_json "$IPFS_CLUSTER_PATH/service.json" \
    "cluster.peername=\"$name\"" "cluster.listen_multiaddress=[\"/ip4/$ip/tcp/9096\"]" 'cluster.disable_repinning=false' \
    'cluster.replication_factor_min=-1' 'cluster.replication_factor_max=-1' 'cluster.mdns_interval="0s"' \
    "cluster.monitor_ping_interval=\"$monitor\"" "monitor.pubsubmon.check_interval=\"$monitor\"" \
    "api.restapi.http_listen_multiaddress=\"/ip4/$ip/tcp/9094\"" "ipfs_connector.ipfshttp.node_multiaddress=\"$api\""
  if [ "$fast" = 1 ]; then
    # Re-pinning is only as quick as its slowest link: the freespace metrics a new allocation is
    # chosen by expire after metric_ttl, pubsub (which carries metrics and CRDT heads) beats every
    # heartbeat and, without flooding, reaches peers outside the mesh a beat later; a missed CRDT
    # head waits for the rebroadcast; a pin that failed waits for the recover interval. Measured on
    # the e2e nodes: re-pinned ~3.5 s after a holder was taken for gone.
    set_json "$IPFS_CLUSTER_PATH/service.json" \
      'informer.disk.metric_ttl="6s"' 'informer.pinqueue.metric_ttl="6s"' 'informer.tags.metric_ttl="6s"' \
      'cluster.pubsub.heartbeat_interval="1s"' 'cluster.pubsub.flood_publish=true' \
      'consensus.crdt.rebroadcast_interval="2s"' 'cluster.pin_recover_interval="10s"' \
      'ipfs_connector.ipfshttp.pin_timeout="30s"'
  else
    # IPFS Cluster v1.1.6's own defaults, written out so that `up` without the flag undoes an
    # earlier `up` with it.
    set_json "$IPFS_CLUSTER_PATH/service.json" \
      'informer.disk.metric_ttl="30s"' 'informer.pinqueue.metric_ttl="30s"' 'informer.tags.metric_ttl="30s"' \
      'cluster.pubsub.heartbeat_interval="10s"' 'cluster.pubsub.flood_publish=false' \
      'consensus.crdt.rebroadcast_interval="1m0s"' 'cluster.pin_recover_interval="12m0s"' \
      'ipfs_connector.ipfshttp.pin_timeout="2m0s"'
  fi
  local bootstrap=()
  if [ ${#cluster_peers[@]} -gt 0 ]; then bootstrap=(--bootstrap "$(IFS=,; echo "${cluster_peers[*]}")"); fi
  start cluster "$CLUSTER_SERVICE_BIN" daemon "${bootstrap[@]}"
  wait_for cluster curl -fsS "$cluster_api/id"
}

up_registry() {
  local args=(--ipfs-api "$api" registry serve --listen "$registry_listen" --cluster "$cluster_api")
  if [ "$allow_push" = 1 ]; then args+=(--allow-push); fi
  if [ -n "$repl_min" ]; then args+=(--replication-min "$repl_min"); fi
  if [ -n "$repl_max" ]; then args+=(--replication-max "$repl_max"); fi
  if [ -n "$gc_size" ]; then args+=(--gc-keep-size "$gc_size"); fi
  if [ -n "$gc_age" ]; then args+=(--gc-keep-age "$gc_age"); fi
  start registry env IPCR_ROOT="$state/ipcr" "$IPCR_BIN" "${args[@]}" "${registry_args[@]}"
  wait_for registry curl -fsS "http://$registry_listen/healthz"
}

up_hosts() {
  if [ ${#upstreams[@]} -eq 0 ]; then return; fi
  "$IPCR_BIN" registry hosts "${upstreams[@]}" --dir "$certs_d" --mirror "http://$registry_listen" >/dev/null
}

case "$cmd" in
  up)
    mkdir -p "$state"
    up_kubo
    up_cluster
    up_registry
    up_hosts
    echo "kubo      $api ($("$IPFS_BIN" --api "$api" id -f='<id>'))"
    echo "cluster   $cluster_api ($(curl -fsS "$cluster_api/id" | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).id))'))"
    echo "registry  http://$registry_listen"
    ;;
  down)
    stop registry
    stop cluster
    stop kubo
    ;;
  *) die "unknown command $cmd: up or down" ;;
esac
