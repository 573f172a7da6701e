/**
 * ipcr nodes as deploy/node.sh sets them up (kubo in the private network, an IPFS Cluster peer
 * beside it, `ipcr registry serve` over it), each inside a namespace of a testkit cluster
 * (cluster.ts, made with `kubo: false`). Shared by test/e2e/cluster.test.ts and bench/cluster.mjs,
 * so both bring their nodes up the way a machine is brought up, with the same script.
 * The returned handle remembers each node's peer IDs, so later nodes join the earlier ones.
 */
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { ClusterNode } from './cluster.js'

export const nodeScript = fileURLToPath(new URL('../../deploy/node.sh', import.meta.url))

export interface DeployOptions {
  /** Where each node's state goes: `<work>/<node name>` (repos, pid files, logs). */
  work: string
  /** The swarm.key file every node gets. */
  swarmKey: string
  /** The cluster secret, 64 hex digits. */
  secret: string
  /** kubo's `ipfs`, `ipfs-cluster-service` and `ipcr`, by path. */
  bins: { ipfs: string; clusterService: string; ipcr: string }
  /** deploy/node.sh's --monitor-interval (also its fast cluster timings); omitted: production timings. */
  monitorInterval?: string
}

export interface PeerIds { kubo: string; cluster: string }

export interface DeployedNodes {
  readonly ids: ReadonlyMap<string, PeerIds>
  /** `deploy/node.sh up` in the node's namespace, joined to `peers` (kubo and cluster); `extra` goes on its command line. */
  up(n: ClusterNode, peers: ClusterNode[], extra?: string[]): Promise<PeerIds>
  /** `deploy/node.sh down`: registry, cluster peer and kubo stop (the state stays). */
  down(n: ClusterNode): Promise<void>
  stateDir(n: ClusterNode): string
}

export const kuboApi = (n: ClusterNode): string => `/ip4/${n.ip}/tcp/5001`
export const clusterApi = (n: ClusterNode): string => `http://${n.ip}:9094`
export const registryUrl = (n: ClusterNode): string => `http://${n.ip}:5050`

export function deployedNodes(o: DeployOptions): DeployedNodes {
  const ids = new Map<string, PeerIds>()
  const stateDir = (n: ClusterNode): string => join(o.work, n.name)
  return {
    ids,
    stateDir,
    async up(n, peers, extra = []) {
      const args = ['up', '--foreground', '--ip', n.ip, '--name', n.name, '--state', stateDir(n), '--swarm-key', o.swarmKey,
        '--cluster-secret', o.secret, ...(o.monitorInterval ? ['--monitor-interval', o.monitorInterval] : [])]
      for (const p of peers) {
        const id = ids.get(p.name)
        if (!id) throw new Error(`${p.name} is not up`)
        args.push('--peer', `/ip4/${p.ip}/tcp/4001/p2p/${id.kubo}`, '--cluster-peer', `/ip4/${p.ip}/tcp/9096/p2p/${id.cluster}`)
      }
      const r = await n.exec('bash', [nodeScript, ...args, ...extra], {
        env: { IPFS_BIN: o.bins.ipfs, CLUSTER_SERVICE_BIN: o.bins.clusterService, IPCR_BIN: o.bins.ipcr },
        timeoutMs: 120_000,
      })
      if (r.code !== 0) throw new Error(`deploy/node.sh up on ${n.name} exited ${r.code ?? r.signal}:\n${r.stdout}${r.stderr}`)
      const kubo = /^kubo\s+\S+ \((\w+)\)$/m.exec(r.stdout)?.[1]
      const cluster = /^cluster\s+\S+ \((\w+)\)$/m.exec(r.stdout)?.[1]
      if (!kubo || !cluster) throw new Error(`deploy/node.sh up on ${n.name} printed no peer IDs:\n${r.stdout}`)
      const id = { kubo, cluster }
      ids.set(n.name, id)
      return id
    },
    async down(n) {
      const r = await n.exec('bash', [nodeScript, 'down', '--foreground', '--state', stateDir(n)])
      if (r.code !== 0) throw new Error(`deploy/node.sh down on ${n.name} exited ${r.code ?? r.signal}: ${r.stderr}`)
    },
  }
}

/** Poll `check` every 500 ms until it gives a value, or fail after `timeoutMs` with what the last try threw. */
export async function until<T>(what: string, timeoutMs: number, check: () => Promise<T | undefined>): Promise<{ value: T; seconds: number }> {
  const t0 = performance.now()
  let last: unknown
  while (performance.now() - t0 < timeoutMs) {
    try {
      const v = await check()
      if (v !== undefined) return { value: v, seconds: (performance.now() - t0) / 1000 }
    } catch (err) {
      last = err
    }
    await new Promise((r) => setTimeout(r, 500))
  }
  throw new Error(`${what}: not within ${timeoutMs / 1000} s${last ? ` (last: ${String(last)})` : ''}`)
}

/**
 * Wait until the cluster peer on `via` sees `count` peers answering and holds every metric it
 * knows of (ping, free space, tags, pin queue) from each. Pins are allocated by those metrics, and
 * a peer that misses another's pings never raises the alert that re-pins its copies: a re-pin is
 * tried once, by the live peer closest to the CID, and fails if that peer sees too few candidates.
 * Resolves to the seconds each wait took.
 */
export async function clusterConverged(via: ClusterNode, count: number, timeoutMs = 60_000): Promise<{ peers: number; metrics: number }> {
  const peers = await until(`${count} cluster peers answer at ${via.name}`, timeoutMs, async () => {
    const text = await (await fetch(`${clusterApi(via)}/peers`)).text()
    const n = text.split('\n').filter((l) => l.trim() !== '').filter((l) => ((JSON.parse(l) as { error?: string }).error ?? '') === '').length
    return n === count ? n : undefined
  })
  const metrics = await until(`${via.name} holds every metric of ${count} peers`, timeoutMs, async () => {
    const names = await (await fetch(`${clusterApi(via)}/monitor/metrics`)).json() as string[]
    for (const name of new Set(['ping', 'freespace', ...names])) {
      const list = await (await fetch(`${clusterApi(via)}/monitor/metrics/${encodeURIComponent(name)}`)).json() as unknown[]
      if (list.length !== count) return undefined
    }
    return names.length
  })
  return { peers: peers.seconds, metrics: metrics.seconds }
}
