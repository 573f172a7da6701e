// A private IPFS network of three kubo nodes, each in a network namespace made here: an image pushed
// on A is pulled on B; with A stopped, C still pulls it, the blocks coming from B (which pinned what
// it pulled); `image rm` on C unpins what only that image used. One containerd (the rig's) stands in
// for every node's: it is wiped between pulls, and ipcr reaches each node's kubo API on its veth.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { mkdtemp } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { buildFixtures, type Fixtures } from '../../src/testkit/index.js'
import { ctr, wipeContainerd } from '../support/rig.js'
import { ipcr } from '../support/ipcr.js'
import { kuboCluster, type Cluster, type ClusterNode } from '../support/cluster.js'

let fx: Fixtures
let cluster: Cluster | undefined

beforeAll(async () => {
  fx = await buildFixtures(join(tmpdir(), 'ipcr-fixtures'))
  process.env.IPCR_ROOT = await mkdtemp(join(tmpdir(), 'ipcr-p2p-root-'))
  cluster = await kuboCluster(['a', 'b', 'c'])
})

afterAll(async () => {
  await cluster?.destroy()
})

async function recursivePins(node: ClusterNode): Promise<string[]> {
  const r = await node.ipfs(['pin', 'ls', '--type=recursive', '--quiet'])
  expect(r.code, r.stderr).toBe(0)
  return r.stdout.split('\n').filter(Boolean)
}

async function localBlocks(node: ClusterNode): Promise<string[]> {
  const r = await node.ipfs(['refs', 'local'])
  expect(r.code, r.stderr).toBe(0)
  return r.stdout.split('\n').filter(Boolean)
}

/** Bytes `node` has received from `peer` over bitswap, from its ledger. */
async function receivedFrom(node: ClusterNode, peer: ClusterNode): Promise<number> {
  const r = await node.ipfs(['bitswap', 'ledger', peer.peerId, '--enc=json'])
  expect(r.code, r.stderr).toBe(0)
  return Number((JSON.parse(r.stdout) as { Recv: number }).Recv)
}

describe('a private network of three kubo nodes', () => {
  it('pushes on A, pulls on B, and with A stopped C pulls from B', async () => {
    const [a, b, c] = (cluster as Cluster).nodes as [ClusterNode, ClusterNode, ClusterNode]
    const pushed = await ipcr(['--ipfs-api', a.api, 'i', 'ipfs-push', '--estargz=false', '--ipns=false', '--json', `oci-layout:${fx.single.layout}`])
    expect(pushed.code, pushed.stderr).toBe(0)
    const result = JSON.parse(pushed.stdout) as { root: string; blobs: Array<{ mediaType: string; cid: string; size: number }> }
    const root = result.root
    const layer = result.blobs.find((x) => x.mediaType.includes('layer')) as { cid: string; size: number }
    const layerCid = layer.cid
    expect(await localBlocks(b)).not.toContain(root)

    await wipeContainerd()
    const onB = await ipcr(['--ipfs-api', b.api, 'i', 'rpull', '--snapshotter=overlayfs', '--ipfs', root])
    expect(onB.code, onB.stderr).toBe(0)
    expect(onB.stderr).toMatch(new RegExp(`pinned \\d+ blob\\(s\\) on kubo node ${b.peerId}`))
    // B pinned what it fetched, so it keeps serving it.
    expect(await recursivePins(b)).toEqual(expect.arrayContaining([root, layerCid]))
    expect(await receivedFrom(b, a)).toBeGreaterThan(0)

    await a.stop()
    expect(a.running).toBe(false)
    // kubo 0.38's bitswap can lose track of a connected peer (ipfs/boxo#83, #1163): check that B and C
    // still exchange blocks (reconnecting them if not) before relying on it.
    await (cluster as Cluster).connectAll(['b', 'c'])
    expect(await localBlocks(c)).not.toContain(layerCid)
    const sentByB = await receivedFrom(c, b)
    const sentByA = await receivedFrom(c, a)
    await wipeContainerd()
    const onC = await ipcr(['--ipfs-api', c.api, 'i', 'rpull', '--snapshotter=overlayfs', '--ipfs', root])
    expect(onC.code, onC.stderr).toBe(0)
    // Every byte of the layer reached C from B: A is down, and B's ledger with C grew by at least the layer.
    expect(await receivedFrom(c, b) - sentByB).toBeGreaterThanOrEqual(layer.size)
    expect(await receivedFrom(c, a)).toBe(sentByA)
    const out = await ctr(['run', '--rm', '--snapshotter', 'overlayfs', root, `p2p-${process.pid}`, '/bin/echo', 'pulled from a peer'])
    expect(out.stdout, out.stderr).toBe('pulled from a peer\n')

    // `image rm` on C unpins what that pull pinned there.
    expect(await recursivePins(c)).toEqual(expect.arrayContaining([root, layerCid]))
    const rm = await ipcr(['--ipfs-api', c.api, 'i', 'rm', root])
    expect(rm.code, rm.stderr).toBe(0)
    const left = await recursivePins(c)
    expect(left).not.toContain(root)
    expect(left).not.toContain(layerCid)
    // B's pins are B's: removing the image through C does not touch them.
    expect(await recursivePins(b)).toEqual(expect.arrayContaining([root, layerCid]))
  })
})
