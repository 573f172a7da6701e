/**
 * A private IPFS cluster on one machine, for tests and benchmarks: each node is a network namespace
 * made here (`ip netns add`), wired to a bridge on a private /24 (10.99.K.0/24) by a veth pair, and,
 * unless asked otherwise, running its own kubo with its own IPFS_PATH. The kubo nodes share one
 * swarm key and run with LIBP2P_FORCE_PNET=1; each bootstrap list names only the other nodes; AutoConf,
 * telemetry, mDNS, relays, NAT mapping and QUIC are off. The namespaces have no default route, so
 * their traffic stays on the bridge. The root namespace holds the bridge's .1 address and reaches
 * every node's API and gateway through it.
 *
 * destroy() kills every process left in the namespaces, deletes them, the bridge and the files; it is
 * also run at process exit, and a later createCluster() sweeps what a killed process left behind.
 * Needs root (CAP_NET_ADMIN) and iproute2.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import http from 'node:http'
import { existsSync, readFileSync } from 'node:fs'
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

export interface ClusterOptions {
  /** Node names, e.g. ['a', 'b', 'c']. */
  nodes: string[]
  /** Run kubo in every node (default true); false gives bare namespaces for other servers. */
  kubo?: boolean
  /** kubo's `ipfs` binary (default: `ipfs` on PATH). */
  ipfsBin?: string
  /** The swarm.key text every node gets; required with kubo. */
  swarmKey?: string
  /** A different swarm.key for some nodes (outsiders, for tests that the network stays closed). */
  swarmKeys?: Record<string, string>
  /** Extra environment for kubo (e.g. to leave out LIBP2P_FORCE_PNET in a negative test). */
  kuboEnv?: NodeJS.ProcessEnv
  /** Where repos and logs go (default: a new temp directory, removed by destroy()). */
  dir?: string
}

export interface RunResult { code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }

export interface ClusterNode {
  name: string
  /** The network namespace. */
  netns: string
  /** The node's address on the cluster subnet. */
  ip: string
  /** kubo's repo (undefined without kubo). */
  ipfsPath: string
  /** kubo API as a multiaddr and as a URL, reachable from the root namespace. */
  api: string
  apiUrl: string
  /** kubo's gateway (trustless), reachable from the root namespace. */
  gateway: string
  peerId: string
  /** `/ip4/<ip>/tcp/4001/p2p/<peer id>` */
  swarmAddr: string
  log: string
  readonly running: boolean
  /** Start (or restart) this node's kubo and wait for its API. */
  start(): Promise<void>
  /** Stop this node's kubo (TERM, then KILL) and wait for it to exit. */
  stop(): Promise<void>
  /** The kubo CLI against this node's daemon, from the root namespace. */
  ipfs(args: readonly string[], opts?: { input?: string | Uint8Array; timeoutMs?: number }): Promise<RunResult>
  /** Run a command inside this node's network namespace. */
  exec(cmd: string, args: readonly string[], opts?: { env?: NodeJS.ProcessEnv; input?: string | Uint8Array; timeoutMs?: number }): Promise<RunResult>
  /** Start a long-running command inside the namespace (logs to a file); killed by destroy() at the latest. */
  spawn(cmd: string, args: readonly string[], opts?: { env?: NodeJS.ProcessEnv; logName?: string }): { child: ChildProcess; log: string; stop(): Promise<void> }
}

export interface Cluster {
  dir: string
  /** e.g. 10.99.37.0/24 */
  subnet: string
  /** The root namespace's address on the bridge. */
  hostIp: string
  nodes: ClusterNode[]
  node(name: string): ClusterNode
  /** Connect every running kubo node (or those named) to every other one and wait until they see each other. */
  connectAll(names?: string[], timeoutMs?: number): Promise<void>
  destroy(): Promise<void>
}

const prefix = 'ipcr'
const apiPort = 5001
const gatewayPort = 8080
const swarmPort = 4001

function sh(cmd: string, args: readonly string[]): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8' })
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status ?? r.signal}): ${r.stderr.trim()}`)
  return r.stdout
}

function shQuiet(cmd: string, args: readonly string[]): void {
  spawnSync(cmd, args, { stdio: 'ignore' })
}

export function runCommand(cmd: string, args: readonly string[], opts: { env?: NodeJS.ProcessEnv; input?: string | Uint8Array; timeoutMs?: number } = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env: { ...process.env, ...opts.env }, stdio: ['pipe', 'pipe', 'pipe'] })
    const out: Buffer[] = []
    const err: Buffer[] = []
    child.stdout.on('data', (b: Buffer) => out.push(b))
    child.stderr.on('data', (b: Buffer) => err.push(b))
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 120_000)
    child.on('error', (e) => { clearTimeout(timer); reject(e) })
    child.on('close', (code, signal) => {
      clearTimeout(timer)
      resolve({ code, signal, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() })
    })
    child.stdin.on('error', () => {})
    child.stdin.end(opts.input)
  })
}

/** Kill every process in a namespace (they can only be ours: we made it) and delete it. */
function removeNetns(netns: string): void {
  for (let i = 0; i < 3; i++) {
    const pids = spawnSync('ip', ['netns', 'pids', netns], { encoding: 'utf8' }).stdout.split('\n').filter((p) => /^\d+$/.test(p))
    if (pids.length === 0) break
    for (const pid of pids) { try { process.kill(Number(pid), 'SIGKILL') } catch { /* gone */ } }
    spawnSync('sleep', ['0.2'])
  }
  shQuiet('ip', ['netns', 'del', netns])
}

/** Namespaces and bridges of clusters whose creating process has died (a killed test run). */
export function sweepStale(): void {
  const alive = (pid: number): boolean => existsSync(`/proc/${pid}`)
  const names = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout.split('\n').map((l) => l.split(' ')[0] ?? '')
  for (const ns of names) {
    const m = new RegExp(`^${prefix}-(\\d+)-`).exec(ns)
    if (m && !alive(Number(m[1]))) removeNetns(ns)
  }
  const links = spawnSync('ip', ['-o', 'link', 'show', 'type', 'bridge'], { encoding: 'utf8' }).stdout
  for (const m of links.matchAll(new RegExp(`^\\d+: (${prefix}br(\\d+)x\\d+)[:@]`, 'gm'))) {
    if (!alive(Number(m[2]))) shQuiet('ip', ['link', 'del', m[1] as string])
  }
}

/** A /24 in 10.99.0.0/16 that no interface of this machine uses yet. */
function freeSubnet(): number {
  const used = new Set<number>()
  for (const m of sh('ip', ['-o', '-4', 'addr', 'show']).matchAll(/inet 10\.99\.(\d+)\./g)) used.add(Number(m[1]))
  const start = 1 + (process.pid % 250)
  for (let i = 0; i < 254; i++) {
    const k = 1 + ((start + i - 1) % 254)
    if (!used.has(k)) return k
  }
  throw new Error('no free /24 in 10.99.0.0/16')
}

let clusterSeq = 0
const live = new Set<() => void>()
let exitHooked = false

export async function createCluster(o: ClusterOptions): Promise<Cluster> {
  if (o.nodes.length === 0 || o.nodes.length > 200) throw new Error('a cluster has 1 to 200 nodes')
  const withKubo = o.kubo ?? true
  if (withKubo && !o.swarmKey) throw new Error('a kubo cluster needs a swarm key')
  sweepStale()
  const seq = clusterSeq++
  const tag = `${process.pid}x${seq}`
  const bridge = `${prefix}br${tag}`
  if (bridge.length > 15) throw new Error(`interface name ${bridge} is too long`)
  const k = freeSubnet()
  const hostIp = `10.99.${k}.1`
  const dir = o.dir ?? await mkdtemp(join(tmpdir(), 'ipcr-cluster-'))
  const ipfsBin = o.ipfsBin ?? 'ipfs'
  const made: { netns: string[]; links: string[] } = { netns: [], links: [] }
  const daemons = new Map<string, ChildProcess>()
  const spawned = new Set<ChildProcess>()

  // Synchronous so it can run from an exit handler too.
  let destroyed = false
  const teardownSync = (): void => {
    if (destroyed) return
    destroyed = true
    for (const c of spawned) { try { if (c.pid) process.kill(-c.pid, 'SIGKILL') } catch { /* gone */ } }
    for (const ns of made.netns) removeNetns(ns)
    for (const l of made.links) shQuiet('ip', ['link', 'del', l])
    if (!o.dir) spawnSync('rm', ['-rf', dir])
    live.delete(teardownSync)
  }
  live.add(teardownSync)
  if (!exitHooked) {
    exitHooked = true
    process.once('exit', () => { for (const t of [...live]) t() })
  }

  try {
    sh('ip', ['link', 'add', bridge, 'type', 'bridge'])
    made.links.push(bridge)
    sh('ip', ['addr', 'add', `${hostIp}/24`, 'dev', bridge])
    sh('ip', ['link', 'set', bridge, 'up'])

    const nodes: ClusterNode[] = []
    for (const [i, name] of o.nodes.entries()) {
      const netns = `${prefix}-${process.pid}-${seq}-${name}`
      const ip = `10.99.${k}.${10 + i}`
      const host = `${prefix}${tag}h${i}`
      if (host.length > 15) throw new Error(`interface name ${host} is too long`)
      sh('ip', ['netns', 'add', netns])
      made.netns.push(netns)
      sh('ip', ['link', 'add', host, 'type', 'veth', 'peer', 'name', `${host}p`])
      made.links.push(host)
      sh('ip', ['link', 'set', `${host}p`, 'netns', netns])
      sh('ip', ['link', 'set', host, 'master', bridge])
      sh('ip', ['link', 'set', host, 'up'])
      sh('ip', ['-n', netns, 'link', 'set', 'lo', 'up'])
      sh('ip', ['-n', netns, 'link', 'set', `${host}p`, 'name', 'eth0'])
      sh('ip', ['-n', netns, 'addr', 'add', `${ip}/24`, 'dev', 'eth0'])
      sh('ip', ['-n', netns, 'link', 'set', 'eth0', 'up'])

      const nodeDir = join(dir, name)
      await mkdir(nodeDir, { recursive: true })
      const ipfsPath = join(nodeDir, 'ipfs')
      const log = join(nodeDir, 'kubo.log')
      const env = { IPFS_PATH: ipfsPath }
      const node: ClusterNode = {
        name, netns, ip, ipfsPath, log,
        api: `/ip4/${ip}/tcp/${apiPort}`,
        apiUrl: `http://${ip}:${apiPort}`,
        gateway: `http://${ip}:${gatewayPort}`,
        peerId: '',
        swarmAddr: '',
        get running() { return daemons.has(name) },
        async start() {
          if (!withKubo) throw new Error(`node ${name} has no kubo`)
          if (daemons.has(name)) return
          await rm(join(ipfsPath, 'api'), { force: true })
          const child = spawnIn(netns, ipfsBin, ['daemon'], { ...env, LIBP2P_FORCE_PNET: '1', GOLOG_LOG_LEVEL: 'error', ...o.kuboEnv }, log)
          daemons.set(name, child)
          child.once('exit', () => { if (daemons.get(name) === child) daemons.delete(name) })
          const deadline = Date.now() + 60_000
          for (;;) {
            if (!daemons.has(name)) throw new Error(`kubo on ${name} exited at start:\n${await readFile(log, 'utf8').catch(() => '')}`)
            // Over HTTP: the CLI would answer `version` itself while the daemon is still starting.
            if (await apiAnswers(node.apiUrl)) break
            if (Date.now() > deadline) throw new Error(`kubo on ${name} did not answer within 60 s:\n${await readFile(log, 'utf8').catch(() => '')}`)
            await new Promise((r) => setTimeout(r, 200))
          }
        },
        async stop() {
          const child = daemons.get(name)
          if (!child) return
          await stopChild(child)
          daemons.delete(name)
        },
        ipfs(args, opts = {}) {
          return runCommand(ipfsBin, ['--api', node.api, ...args], { env, ...opts })
        },
        exec(cmd, args, opts = {}) {
          return runCommand('ip', ['netns', 'exec', netns, cmd, ...args], opts)
        },
        spawn(cmd, args, opts = {}) {
          const logFile = join(nodeDir, `${opts.logName ?? cmd.split('/').pop() ?? 'process'}.log`)
          const child = spawnIn(netns, cmd, args, opts.env ?? {}, logFile)
          return { child, log: logFile, stop: () => stopChild(child) }
        },
      }
      nodes.push(node)
    }

    function spawnIn(netns: string, cmd: string, args: readonly string[], env: NodeJS.ProcessEnv, logFile: string): ChildProcess {
      // The log is opened by the shell so the child writes to it directly, even after we stop reading.
      const child = spawn('sh', ['-c', 'exec "$@" >>"$IPCR_CLUSTER_LOG" 2>&1 </dev/null', 'sh', 'ip', 'netns', 'exec', netns, cmd, ...args], {
        env: { ...process.env, ...env, IPCR_CLUSTER_LOG: logFile }, detached: true, stdio: 'ignore',
      })
      spawned.add(child)
      child.once('exit', () => spawned.delete(child))
      return child
    }

    if (withKubo) {
      for (const node of nodes) {
        const env = { IPFS_PATH: node.ipfsPath }
        const ipfs = (...args: string[]): string => {
          const r = spawnSync(ipfsBin, args, { env: { ...process.env, ...env }, encoding: 'utf8' })
          if (r.status !== 0) throw new Error(`ipfs ${args.join(' ')} on ${node.name} failed: ${r.stderr}`)
          return r.stdout
        }
        // Default init (no profile): Import.* stays at kubo's defaults, so CIDs match everywhere.
        ipfs('init', '--empty-repo')
        await writeFile(join(node.ipfsPath, 'swarm.key'), o.swarmKeys?.[node.name] ?? o.swarmKey as string, { mode: 0o600 })
        const config = JSON.parse(readFileSync(join(node.ipfsPath, 'config'), 'utf8')) as { Identity: { PeerID: string } }
        node.peerId = config.Identity.PeerID
        node.swarmAddr = `/ip4/${node.ip}/tcp/${swarmPort}/p2p/${node.peerId}`
        const set = (key: string, value: unknown): void => { ipfs('config', '--json', key, JSON.stringify(value)) }
        set('Addresses.API', node.api)
        set('Addresses.Gateway', `/ip4/${node.ip}/tcp/${gatewayPort}`)
        set('Addresses.Swarm', [`/ip4/${node.ip}/tcp/${swarmPort}`])
        set('Bootstrap', [])
        // Nothing reaches beyond the cluster: no AutoConf, delegated routing, telemetry, mDNS, relays or NAT.
        set('AutoConf.Enabled', false)
        set('DNS.Resolvers', {})
        set('Routing.DelegatedRouters', [])
        set('Ipns.DelegatedPublishers', [])
        set('Plugins.Plugins.telemetry.Config.Mode', 'off')
        set('Discovery.MDNS.Enabled', false)
        set('Swarm.DisableNatPortMap', true)
        set('Swarm.RelayClient.Enabled', false)
        set('Swarm.RelayService.Enabled', false)
        set('AutoNAT.ServiceMode', 'disabled')
        set('AutoTLS.Enabled', false)
        // The DHT over the cluster only: with a swarm key kubo refuses the public HTTP routers of "auto".
        set('Routing.Type', 'dht')
        // Private networks run over TCP only (the PSK protects TCP connections, not QUIC).
        set('Swarm.Transports.Network.QUIC', false)
        set('Swarm.Transports.Network.WebTransport', false)
        set('Swarm.Transports.Network.WebRTCDirect', false)
        set('Swarm.Transports.Network.Websocket', false)
      }
      // Bitswap in kubo 0.38 never sees a peer that connected while the node was starting
      // (ipfs/boxo#83; fixed upstream by ipfs/boxo#1201), and a disconnect+reconnect can leave a peer
      // unasked too (ipfs/boxo#1163). So the daemons start with an empty bootstrap list and are joined
      // once all of them answer; the list naming the other nodes is then stored (`bootstrap add`), so
      // a node restarted later (start()) bootstraps from them, as a real cluster's nodes do.
      await Promise.all(nodes.map((n) => n.start()))
      for (const node of nodes) {
        const others = nodes.filter((n) => n !== node).map((n) => n.swarmAddr)
        const r = await node.ipfs(['bootstrap', 'add', ...others])
        if (r.code !== 0) throw new Error(`bootstrap add on ${node.name} failed: ${r.stderr}\n--- ${node.log}\n${await readFile(node.log, 'utf8').catch(() => '')}`)
      }
    }

    const cluster: Cluster = {
      dir, subnet: `10.99.${k}.0/24`, hostIp, nodes,
      node(name) {
        const n = nodes.find((x) => x.name === name)
        if (!n) throw new Error(`no node ${name}`)
        return n
      },
      async connectAll(names, timeoutMs = 60_000) {
        const up = nodes.filter((n) => n.running && (names === undefined || names.includes(n.name)))
        const deadline = Date.now() + timeoutMs
        for (const a of up) {
          for (const b of up) {
            if (a === b) continue
            for (;;) {
              const peers = await a.ipfs(['swarm', 'peers'])
              if (peers.stdout.includes(b.peerId)) break
              await a.ipfs(['swarm', 'connect', b.swarmAddr], { timeoutMs: 15_000 })
              if (Date.now() > deadline) throw new Error(`${a.name} could not connect to ${b.name}: ${peers.stderr}`)
              await new Promise((r) => setTimeout(r, 250))
            }
          }
        }
        // Connected is not enough for kubo 0.38's bitswap (see above): prove that every pair exchanges a
        // block, and reconnect a pair that does not.
        const probes = new Map<ClusterNode, string>()
        for (const b of up) {
          const r = await b.ipfs(['block', 'put'], { input: `probe ${b.name} ${process.pid} ${Date.now()} ${Math.random()}` })
          if (r.code !== 0) throw new Error(`block put on ${b.name} failed: ${r.stderr}`)
          probes.set(b, r.stdout.trim())
        }
        for (const a of up) {
          for (const b of up) {
            if (a === b) continue
            while ((await a.ipfs(['block', 'get', probes.get(b) as string], { timeoutMs: 3000 })).code !== 0) {
              if (Date.now() > deadline) throw new Error(`${a.name} is connected to ${b.name} but gets no blocks from it`)
              await a.ipfs(['swarm', 'disconnect', b.swarmAddr])
              await a.ipfs(['swarm', 'connect', b.swarmAddr], { timeoutMs: 15_000 })
            }
          }
        }
      },
      async destroy() {
        await Promise.all([...daemons.values()].map((c) => stopChild(c)))
        teardownSync()
      },
    }
    return cluster
  } catch (err) {
    teardownSync()
    throw err
  }
}

/** Whether kubo's RPC API answers `POST /api/v0/version`. */
function apiAnswers(apiUrl: string): Promise<boolean> {
  return new Promise((resolve) => {
    const req = http.request(`${apiUrl}/api/v0/version`, { method: 'POST', timeout: 2000 }, (res) => {
      res.resume()
      resolve(res.statusCode === 200)
    })
    req.on('timeout', () => req.destroy())
    req.on('error', () => resolve(false))
    req.end()
  })
}

/** TERM the child's process group, KILL it after 10 s, and wait for the exit. */
async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null || !child.pid) return
  const exited = new Promise<void>((r) => child.once('exit', () => r()))
  const signal = (s: NodeJS.Signals): void => { try { process.kill(-(child.pid as number), s) } catch { /* gone */ } }
  signal('SIGTERM')
  const timer = setTimeout(() => signal('SIGKILL'), 10_000)
  await exited
  clearTimeout(timer)
}
