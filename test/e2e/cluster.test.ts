// Issue 17, "Must show": replication through IPFS Cluster on nodes brought up by deploy/node.sh.
// Each node is a network namespace (testkit bareCluster) in which deploy/node.sh starts kubo in the
// private network, an IPFS Cluster peer (re-pinning on, peers reporting every 2 s, with the script's
// fast timings) and ipcr's registry, exactly as it would on a machine (src/testkit/cluster-nodes.ts,
// which bench/cluster.mjs shares); one containerd (the rig's) stands in for each node's.
// 1. Bad input, while all three run: an unreachable cluster (one line, the push recorded, a rerun
//    pins) and a replication minimum above the peer count (refused before any work, count named).
// 2. Three nodes: an image pushed on A with --replication-min 2 is pinned on two peers; A stops; crictl
//    pulls the reference on C through C's registry and the container runs; re-pinning puts the copies
//    on B and C; a fresh fourth node D joins by deploy/node.sh; a node the cluster's allocations name
//    as a holder stops, re-pinning keeps two copies on the other and D, and D pulls the image by name.
// 3. ipcr gc on the rig's kubo: four pulled images over the bound, the least recently pulled one not
//    in containerd and not kept by the cluster goes; --dry-run names the same and changes nothing.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ipcr } from '../support/ipcr.js'
import { bareCluster, ipcrBin, newSwarmKeyViaCli, rigIpfsBin, type Cluster, type ClusterNode } from '../support/cluster.js'
import { ClusterClient } from '../../src/cluster/client.js'
import { clusterApi, clusterConverged, deployedNodes, kuboApi, registryUrl, until, type DeployedNodes } from '../../src/testkit/cluster-nodes.js'
import { ctr, ipfs, rigEnv, run, type RunResult } from '../support/rig.js'
import { uniqueImage, type UniqueImage } from '../support/unique-image.js'

const ref = `ceo.test/org/replicated:${process.pid}`

let work: string
let net: Cluster
let nodes: DeployedNodes
let img: UniqueImage
/** How many of the image's CIDs A held a copy of before it stopped (the allocator may have chosen B and C). */
let heldByA = 0

const nodeUp = async (n: ClusterNode, peers: ClusterNode[]): Promise<void> => { await nodes.up(n, peers) }
const nodeDown = (n: ClusterNode): Promise<void> => nodes.down(n)

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
  const swarmKey = join(work, 'swarm.key')
  await writeFile(swarmKey, await newSwarmKeyViaCli(), { mode: 0o600 })
  const secret = (await import('node:crypto')).randomBytes(32).toString('hex')
  nodes = deployedNodes({ work, swarmKey, secret, monitorInterval: '2s', bins: { ipfs: rigIpfsBin(), clusterService: rigEnv().IPCR_RIG_CLUSTER_SERVICE, ipcr: ipcrBin } })
  img = await uniqueImage(join(work, 'image'), `cluster-${process.pid}`)
  net = await bareCluster(['a', 'b', 'c', 'd'])
  const [a, b, c] = net.nodes as [ClusterNode, ClusterNode, ClusterNode]
  const t0 = performance.now()
  await nodeUp(a, [])
  await nodeUp(b, [a])
  await nodeUp(c, [a, b])
  const up = (performance.now() - t0) / 1000
  // Pins are allocated by the peers' free-space metrics: until A has heard every peer's, it sees one candidate.
  await clusterConverged(c, 3)
  const converged = await clusterConverged(a, 3)
  console.log(`cluster: three nodes up with deploy/node.sh in ${up.toFixed(1)} s (A saw every peer's metrics ${converged.metrics.toFixed(1)} s later)`)
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
    heldByA = pinned.value.peers.find((p) => p.peername === 'a')?.states.pinned ?? 0
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

  it('the cluster re-pins A\'s copies onto B and C; a fourth node joins by deploy/node.sh, a holder stops, the cluster keeps two copies on the rest, and the fourth pulls by name', async () => {
    const [, b, c, d] = net.nodes as [ClusterNode, ClusterNode, ClusterNode, ClusterNode]
    const repinned = await until('B and C hold every CID', 120_000, async () => {
      const s = await clusterStatus(c, ref)
      return copies(s, ['b', 'c']) === 2 * s.cids.length ? s : undefined
    })
    console.log(`cluster: after A (holding ${heldByA} of the ${repinned.value.cids.length} CIDs) stopped, the copies were on b and c ${repinned.seconds.toFixed(1)} s later`)
    // A fourth node joins (through C only) before a holder goes: with the minimum at 2, the cluster needs a third live peer to move a copy to.
    const t0 = performance.now()
    await nodeUp(d, [c])
    // Every live peer, not C alone: whichever is closest to a CID re-pins it when the holder goes.
    for (const n of [b, c, d]) await clusterConverged(n, 3)
    console.log(`cluster: a fourth node joined with deploy/node.sh in ${((performance.now() - t0) / 1000).toFixed(1)} s`)
    // Which node to stop is read from the cluster, not assumed: one that every CID of the image is allocated to.
    const api = new ClusterClient(clusterApi(c))
    const nameOf = new Map([...nodes.ids].map(([name, id]) => [id.cluster, name]))
    const allocated = await Promise.all(repinned.value.cids.map(async (cid) => (await api.allocation(cid))?.allocations.map((p) => nameOf.get(p) ?? p) ?? []))
    const holder = [b, c].find((n) => allocated.every((names) => names.includes(n.name)))
    if (!holder) throw new Error(`no node holds every CID: allocations ${JSON.stringify(allocated)}`)
    const keeper = holder === b ? c : b
    const before = await clusterStatus(keeper, ref)
    expect(copies(before, ['d']), 'D holds no copy before the holder stops').toBe(0)
    await nodeDown(holder)
    let seen: Status | undefined
    const kept = await until(`${keeper.name} and d hold every CID`, 120_000, async () => {
      seen = await clusterStatus(keeper, ref)
      return copies(seen, [keeper.name, 'd']) === 2 * seen.cids.length ? seen : undefined
    }).catch((err: Error) => { throw new Error(`${err.message}; last status ${JSON.stringify(seen)}`) })
    for (const cid of kept.value.cids) {
      const pin = await new ClusterClient(clusterApi(keeper)).allocation(cid)
      expect(pin?.allocations.map((p) => nameOf.get(p) ?? p).sort(), cid).toEqual([keeper.name, 'd'].sort())
    }
    console.log(`cluster: ${holder.name}, a holder, stopped; the cluster kept two copies (${keeper.name} and d) ${kept.seconds.toFixed(1)} s later`)
    const t1 = performance.now()
    const pulled = await ipcr(['--ipfs-api', kuboApi(d), 'i', 'rpull', '--ipfs', '--snapshotter', 'overlayfs', '--json', ref], { env: { IPCR_ROOT: join(work, 'd-cli') }, timeoutMs: 180_000 })
    expect(pulled.code, pulled.stderr).toBe(0)
    expect((JSON.parse(pulled.stdout) as { root: string }).root).toBe(root)
    const ran = await ipcr(['run', '--rm', '--snapshotter', 'overlayfs', ref, `cluster-d-${process.pid}`, '/bin/cat', '/unique.txt'])
    expect(ran.code, ran.stderr).toBe(0)
    expect(ran.stdout).toBe(img.text)
    console.log(`cluster: the fourth node pulled ${ref} by name in ${((performance.now() - t1) / 1000).toFixed(1)} s`)
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
