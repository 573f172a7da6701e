// Issue 17, "Must show": replication through IPFS Cluster on nodes brought up by deploy/node.sh.
// Each node is a network namespace (testkit bareCluster) in which deploy/node.sh starts kubo in the
// private network, an IPFS Cluster peer (re-pinning on, peers reporting every 2 s) and ipcr's
// registry, exactly as it would on a machine; one containerd (the rig's) stands in for each node's.
// 1. Bad input, while all three run: an unreachable cluster (one line, the push recorded, a rerun
//    pins) and a replication minimum above the peer count (refused before any work, count named).
// 2. Three nodes: an image pushed on A with --replication-min 2 is pinned on two peers; A stops; crictl
//    pulls the reference on C through C's registry and the container runs; re-pinning puts the copies
//    on B and C; B stops; a fresh fourth node, joined by deploy/node.sh, pulls the image by name.
// 3. ipcr gc on the rig's kubo: four pulled images over the bound, the least recently pulled one not
//    in containerd and not kept by the cluster goes; --dry-run names the same and changes nothing.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { ipcr } from '../support/ipcr.js'
import { bareCluster, ipcrBin, newSwarmKeyViaCli, rigIpfsBin, type Cluster, type ClusterNode } from '../support/cluster.js'
import { ctr, ipfs, rigEnv, run, type RunResult } from '../support/rig.js'
import { uniqueImage, type UniqueImage } from '../support/unique-image.js'

const nodeScript = fileURLToPath(new URL('../../deploy/node.sh', import.meta.url))
const ref = `ceo.test/org/replicated:${process.pid}`

let work: string
let net: Cluster
let swarmKey: string
let secret: string
let img: UniqueImage
const ids = new Map<string, { kubo: string; cluster: string }>()

const kuboApi = (n: ClusterNode): string => `/ip4/${n.ip}/tcp/5001`
const clusterApi = (n: ClusterNode): string => `http://${n.ip}:9094`
const registryUrl = (n: ClusterNode): string => `http://${n.ip}:5050`

/** deploy/node.sh up inside the node's namespace, joined to `peers`; its peer IDs are remembered. */
async function nodeUp(n: ClusterNode, peers: ClusterNode[]): Promise<void> {
  const args = ['up', '--foreground', '--ip', n.ip, '--name', n.name, '--state', join(work, n.name), '--swarm-key', swarmKey,
    '--cluster-secret', secret, '--monitor-interval', '2s']
  for (const p of peers) {
    const id = ids.get(p.name)
    if (!id) throw new Error(`${p.name} is not up`)
    args.push('--peer', `/ip4/${p.ip}/tcp/4001/p2p/${id.kubo}`, '--cluster-peer', `/ip4/${p.ip}/tcp/9096/p2p/${id.cluster}`)
  }
  const r = await n.exec('bash', [nodeScript, ...args], {
    env: { IPFS_BIN: rigIpfsBin(), CLUSTER_SERVICE_BIN: rigEnv().IPCR_RIG_CLUSTER_SERVICE, IPCR_BIN: ipcrBin },
    timeoutMs: 120_000,
  })
  expect(r.code, `${r.stdout}${r.stderr}`).toBe(0)
  const kubo = /^kubo\s+\S+ \((\w+)\)$/m.exec(r.stdout)?.[1]
  const cluster = /^cluster\s+\S+ \((\w+)\)$/m.exec(r.stdout)?.[1]
  if (!kubo || !cluster) throw new Error(`deploy/node.sh up printed no peer IDs:\n${r.stdout}`)
  ids.set(n.name, { kubo, cluster })
}

async function nodeDown(n: ClusterNode): Promise<void> {
  const r = await n.exec('bash', [nodeScript, 'down', '--foreground', '--state', join(work, n.name)])
  expect(r.code, r.stderr).toBe(0)
}

/** Poll until `check` gives a value, or fail after `timeoutMs` with what the last try saw. */
async function until<T>(what: string, timeoutMs: number, check: () => Promise<T | undefined>): Promise<{ value: T; seconds: number }> {
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

interface Status { root: string; cids: string[]; notPinned: string[]; peers: Array<{ peer: string; peername: string; states: Record<string, number> }> }

async function clusterStatus(via: ClusterNode, image: string): Promise<Status> {
  const r = await ipcr(['--ipfs-api', kuboApi(via), 'cluster', 'status', '--cluster', clusterApi(via), '--json', image], { env: { IPCR_ROOT: join(work, 'cli') } })
  if (r.code !== 0) throw new Error(r.stderr)
  return JSON.parse(r.stdout) as Status
}

/** How many pinned copies of the image's CIDs the peers hold in all (each CID is placed on its own peers). */
const copies = (s: Status, on?: string[]): number => s.peers.filter((p) => on === undefined || on.includes(p.peername)).reduce((n, p) => n + (p.states.pinned ?? 0), 0)

function crictl(args: readonly string[]): Promise<RunResult> {
  return run('crictl', ['--runtime-endpoint', `unix://${rigEnv().CONTAINERD_ADDRESS}`, ...args], { timeoutMs: 120_000 })
}

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'ipcr-cluster-'))
  swarmKey = join(work, 'swarm.key')
  await writeFile(swarmKey, await newSwarmKeyViaCli(), { mode: 0o600 })
  secret = (await import('node:crypto')).randomBytes(32).toString('hex')
  img = await uniqueImage(join(work, 'image'), `cluster-${process.pid}`)
  net = await bareCluster(['a', 'b', 'c', 'd'])
  const [a, b, c] = net.nodes as [ClusterNode, ClusterNode, ClusterNode]
  const t0 = performance.now()
  await nodeUp(a, [])
  await nodeUp(b, [a])
  await nodeUp(c, [a, b])
  const peers = await until('three cluster peers see each other', 60_000, async () => {
    const r = await fetch(`${clusterApi(c)}/peers`)
    const n = (await r.text()).split('\n').filter((l) => l.trim() !== '').filter((l) => (JSON.parse(l) as { error?: string }).error === '').length
    return n === 3 ? n : undefined
  })
  // Pins are allocated by the peers' free-space metrics: until A has heard every peer's, it sees one candidate.
  const metrics = await until('A knows every peer\'s free space', 60_000, async () => {
    const list = await (await fetch(`${clusterApi(a)}/monitor/metrics/freespace`)).json() as unknown[]
    return list.length === 3 ? list.length : undefined
  })
  console.log(`cluster: three nodes up with deploy/node.sh in ${((performance.now() - t0) / 1000).toFixed(1)} s (peers converged after ${peers.seconds.toFixed(1)} s more, metrics after ${metrics.seconds.toFixed(1)} s)`)
}, 300_000)

afterAll(async () => {
  await rm(join(rigEnv().IPCR_RIG_CERTS_D, 'ceo.test'), { recursive: true, force: true })
  await net?.destroy()
  await rm(work, { recursive: true, force: true })
})

describe('IPFS Cluster: bad input', () => {
  it('an unreachable cluster API fails the push with one line after the push is recorded, and a rerun pins', async () => {
    const c = net.node('c')
    const name = `ceo.test/org/unpinned:${process.pid}`
    const env = { IPCR_ROOT: join(work, 'bad-cli') }
    const push = (cluster: string): Promise<RunResult> => ipcr(['--ipfs-api', kuboApi(c), 'i', 'ipfs-push', '--estargz=false', '--ref', name,
      '--cluster', cluster, '--replication-min', '1', `oci-layout:${img.layout}`], { env, timeoutMs: 120_000 })
    const failed = await push('http://127.0.0.1:9')
    expect(failed.code).toBe(1)
    const last = failed.stderr.trim().split('\n').pop() ?? ''
    expect(last).toMatch(/^ipcr: IPFS Cluster API at http:\/\/127\.0\.0\.1:9 does not answer/)
    const listed = await ipcr(['image', 'ls', '--ipfs'], { env })
    expect(listed.stdout).toContain(name)
    const again = await push(clusterApi(c))
    expect(again.code, again.stderr).toBe(0)
    let seen: Status | undefined
    await until('the rerun\'s pins', 60_000, async () => {
      seen = await clusterStatus(c, name)
      return copies(seen) >= seen.cids.length ? true : undefined
    }).catch((err: Error) => { throw new Error(`${err.message}; last status ${JSON.stringify(seen)}`) })
  }, 240_000)

  it('a replication minimum above the peer count is refused before any work, naming the count', async () => {
    const c = net.node('c')
    const name = `ceo.test/org/toomany:${process.pid}`
    const env = { IPCR_ROOT: join(work, 'toomany-cli') }
    const r = await ipcr(['--ipfs-api', kuboApi(c), 'i', 'ipfs-push', '--ref', name, '--cluster', clusterApi(c), '--replication-min', '5', `oci-layout:${img.layout}`], { env })
    expect(r.code).toBe(2)
    expect(r.stderr.trim()).toMatch(/^ipcr: --replication-min 5 cannot be met: the IPFS Cluster at http:\/\/\S+ has 3 peers$/)
    expect((await ipcr(['image', 'ls', '--ipfs'], { env })).stdout).not.toContain(name)
  })
})

describe('replication through IPFS Cluster, nodes by deploy/node.sh', () => {
  let root: string

  it('a push on A with --replication-min 2 is pinned, every CID of it, on two peers', async () => {
    const a = net.node('a')
    const pushed = await ipcr(['--ipfs-api', kuboApi(a), 'i', 'ipfs-push', '--estargz=false', '--json', '--ref', ref,
      '--cluster', clusterApi(a), '--replication-min', '2', `oci-layout:${img.layout}`], { env: { IPCR_ROOT: join(work, 'cli') }, timeoutMs: 180_000 })
    expect(pushed.code, pushed.stderr).toBe(0)
    root = (JSON.parse(pushed.stdout) as { root: string }).root
    expect(pushed.stderr).toMatch(/pinned \d+ CIDs through IPFS Cluster/)
    let seen: Status | undefined
    const pinned = await until('two peers hold every CID', 60_000, async () => {
      seen = await clusterStatus(a, ref)
      return copies(seen) === 2 * seen.cids.length ? seen : undefined
    }).catch((err: Error) => { throw new Error(`${err.message}; last status ${JSON.stringify(seen)}`) })
    console.log(`cluster: ${pinned.value.cids.length} CIDs of ${ref} pinned twice each after ${pinned.seconds.toFixed(1)} s (${pinned.value.peers.map((p) => `${p.peername}: ${p.states.pinned ?? 0}`).join(', ')})`)
    // The root descriptor, every manifest, config and layer: not the root block alone.
    expect(pinned.value.cids.length).toBe(2 + img.layers.length + 1)
    expect(pinned.value.notPinned).toEqual([])
  }, 240_000)

  it('with A stopped, crictl pulls the reference on C through C\'s registry, and the container runs', async () => {
    const [a, , c] = net.nodes as [ClusterNode, ClusterNode, ClusterNode]
    await nodeDown(a)
    const certsD = rigEnv().IPCR_RIG_CERTS_D
    const hosts = await ipcr(['registry', 'hosts', 'ceo.test', '--dir', certsD, '--mirror', registryUrl(c)])
    expect(hosts.code, hosts.stderr).toBe(0)
    // No upstream answers for ceo.test: whatever comes, comes through C's registry from IPFS.
    const file = join(certsD, 'ceo.test', 'hosts.toml')
    await writeFile(file, (await readFile(file, 'utf8')).replace('server = "https://ceo.test"', 'server = "http://127.0.0.1:9"'))
    const pulled = await crictl(['pull', ref])
    expect(pulled.code, pulled.stderr).toBe(0)
    const out = await ctr(['-n', 'k8s.io', 'run', '--rm', '--snapshotter', 'overlayfs', ref, `cluster-c-${process.pid}`, '/bin/cat', '/unique.txt'])
    expect(out.code, out.stderr).toBe(0)
    expect(out.stdout).toBe(img.text)
    expect(await readFile(join(work, 'c', 'registry.log'), 'utf8')).toMatch(/"GET \/v2\/org\/replicated\/blobs\/sha256:[0-9a-f]{64}\?ns=ceo\.test" 200/)
  }, 240_000)

  it('the cluster re-pins A\'s copies, so B and C hold the image; with B stopped too, a fresh node joined by deploy/node.sh pulls it by name', async () => {
    const [, b, c, d] = net.nodes as [ClusterNode, ClusterNode, ClusterNode, ClusterNode]
    const repinned = await until('B and C hold every CID', 120_000, async () => {
      const s = await clusterStatus(c, ref)
      return copies(s, ['b', 'c']) === 2 * s.cids.length ? s : undefined
    })
    console.log(`cluster: after A stopped, the copies were on b and c ${repinned.seconds.toFixed(1)} s later`)
    await nodeDown(b)
    const t0 = performance.now()
    await nodeUp(d, [c])
    const pulled = await ipcr(['--ipfs-api', kuboApi(d), 'i', 'rpull', '--ipfs', '--snapshotter', 'overlayfs', '--json', ref], { env: { IPCR_ROOT: join(work, 'd-cli') }, timeoutMs: 180_000 })
    expect(pulled.code, pulled.stderr).toBe(0)
    expect((JSON.parse(pulled.stdout) as { root: string }).root).toBe(root)
    const ran = await ipcr(['run', '--rm', '--snapshotter', 'overlayfs', ref, `cluster-d-${process.pid}`, '/bin/cat', '/unique.txt'])
    expect(ran.code, ran.stderr).toBe(0)
    expect(ran.stdout).toBe(img.text)
    console.log(`cluster: a fourth node joined and pulled ${ref} from C in ${((performance.now() - t0) / 1000).toFixed(1)} s`)
  }, 300_000)
})

describe('ipcr gc on the rig\'s kubo', () => {
  it('unpins the least recently pulled image beyond the bound, never one containerd holds or the cluster keeps; --dry-run names the same', async () => {
    const env = { IPCR_ROOT: join(work, 'gc-root') }
    const images: Array<UniqueImage & { root: string }> = []
    for (const i of [1, 2, 3, 4]) {
      const u = await uniqueImage(join(work, `gc-${i}`), `gc-${process.pid}-${i}`)
      const pushed = await ipcr(['i', 'ipfs-push', '--estargz=false', '--ipns=false', '--json', `oci-layout:${u.layout}`], { env })
      expect(pushed.code, pushed.stderr).toBe(0)
      const out = JSON.parse(pushed.stdout) as { root: string; blobs: Array<{ cid: string }> }
      // As if pushed elsewhere: the blocks are here, but only the pulls below pin them (and so own those pins).
      const unpinned = await ipfs(['pin', 'rm', out.root, ...out.blobs.map((b) => b.cid)])
      expect(unpinned.code, unpinned.stderr).toBe(0)
      images.push({ ...u, root: out.root })
    }
    // Pulled (and pinned) in order, 1 first: 1 is the least recently pulled.
    for (const [i, u] of images.entries()) {
      const extra = i === 1 ? ['--cluster', clusterApi(net.node('c')), '--replication-min', '1'] : []
      const r = await ipcr(['i', 'rpull', '--ipfs', '--pin', '--snapshotter', 'overlayfs', ...extra, u.root], { env, timeoutMs: 120_000 })
      expect(r.code, r.stderr).toBe(0)
      await new Promise((res) => setTimeout(res, 20))
    }
    // 1, 2 (kept by the cluster) and 3 leave containerd; 4 stays there.
    for (const u of images.slice(0, 3)) expect((await ctr(['images', 'rm', u.root])).code).toBe(0)
    const plan = async (args: string[]): Promise<{ images: Array<{ root: string; size: number; keep?: string }>; removed: Array<{ root: string }>; pinnedBefore: number }> => {
      const r = await ipcr(['gc', '--json', ...args], { env })
      expect(r.code, r.stderr).toBe(0)
      return JSON.parse(r.stdout) as { images: Array<{ root: string; size: number; keep?: string }>; removed: Array<{ root: string }>; pinnedBefore: number }
    }
    const first = await plan(['--keep-size', '1GiB', '--dry-run'])
    const sizeOf = (root: string): number => first.images.find((i) => i.root === root)?.size ?? 0
    // A bound that only dropping image 1 (the least recently pulled that may go) meets.
    const bound = first.pinnedBefore - sizeOf(images[0]?.root ?? '')
    const dry = await plan(['--keep-size', String(bound), '--dry-run'])
    expect(dry.removed.map((i) => i.root)).toEqual([images[0]?.root])
    expect(dry.images.find((i) => i.root === images[1]?.root)?.keep).toMatch(/IPFS Cluster/)
    expect(dry.images.find((i) => i.root === images[3]?.root)?.keep).toMatch(/containerd holds it/)
    const pinnedBefore = (await ipfs(['pin', 'ls', '--type=recursive', '-q'])).stdout
    expect(pinnedBefore).toContain(images[0]?.root)
    const done = await plan(['--keep-size', String(bound)])
    expect(done.removed.map((i) => i.root)).toEqual([images[0]?.root])
    const pinnedAfter = (await ipfs(['pin', 'ls', '--type=recursive', '-q'])).stdout
    expect(pinnedAfter).not.toContain(images[0]?.root)
    for (const u of images.slice(1)) expect(pinnedAfter).toContain(u.root)
    // The rest stay pullable: image 3 (no longer in containerd) comes back from its pins.
    const again = await ipcr(['i', 'rpull', '--ipfs', '--snapshotter', 'overlayfs', images[2]?.root ?? ''], { env, timeoutMs: 120_000 })
    expect(again.code, again.stderr).toBe(0)
    console.log(`gc: bound ${bound} B of ${first.pinnedBefore} B pinned; unpinned ${done.removed.length} image(s)`)
  }, 300_000)
})
