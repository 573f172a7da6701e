// Image references across a private network (issue 6): two kubo nodes in network namespaces made here,
// sharing a swarm key and bootstrapping only from each other. A pushes by reference (publishing the
// reference's derived IPNS key); B, which never held that key, pulls by the reference. A third node
// with another swarm key cannot join: the network is closed.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { mkdtemp } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { buildFixtures, type Fixtures } from '../../src/testkit/index.js'
import { ctr, wipeContainerd } from '../support/rig.js'
import { ipcr } from '../support/ipcr.js'
import { kuboCluster, newSwarmKeyViaCli, type Cluster, type ClusterNode } from '../support/cluster.js'

let fx: Fixtures
let cluster: Cluster | undefined

beforeAll(async () => {
  fx = await buildFixtures(join(tmpdir(), 'ipcr-fixtures'))
  process.env.IPCR_ROOT = await mkdtemp(join(tmpdir(), 'ipcr-ipns-net-root-'))
  cluster = await kuboCluster(['a', 'b', 'outsider'], { swarmKeys: { outsider: await newSwarmKeyViaCli() } })
})

afterAll(async () => {
  await cluster?.destroy()
})

describe('IPNS references in a private network', () => {
  it('a node that never held the key pulls by reference what another node pushed', async () => {
    const [a, b] = (cluster as Cluster).nodes as [ClusterNode, ClusterNode]
    const ref = `registry.example/ipcr-net/app:${process.pid}`
    const pushed = await ipcr(['--ipfs-api', a.api, 'i', 'ipfs-push', '--estargz=false', '--ref', ref, `oci-layout:${fx.single.layout}`])
    expect(pushed.code, pushed.stderr).toBe(0)
    const name = (await ipcr(['ipns', 'name', ref])).stdout.trim()
    expect(pushed.stderr).toContain(`published ${ref} as /ipns/${name}`)
    // The key lives on A only.
    expect((await a.ipfs(['key', 'list'])).stdout.split('\n')).toContain(ref)
    expect((await b.ipfs(['key', 'list'])).stdout.split('\n')).not.toContain(ref)

    await wipeContainerd()
    const pulled = await ipcr(['--ipfs-api', b.api, 'i', 'rpull', '--snapshotter=overlayfs', '--timeout', '120s', '--ipfs', ref])
    expect(pulled.code, pulled.stderr).toBe(0)
    expect((await ctr(['images', 'ls', '-q'])).stdout.trim()).toBe(ref)
    const out = await ctr(['run', '--rm', '--snapshotter', 'overlayfs', ref, `ipns-net-${process.pid}`, '/bin/echo', 'resolved across the network'])
    expect(out.stdout, out.stderr).toBe('resolved across the network\n')
    // B resolved the name itself (no key imported), to the root A pushed.
    const resolved = await b.ipfs(['name', 'resolve', '--nocache', `/ipns/${name}`])
    expect(resolved.stdout.trim()).toBe(`/ipfs/${pushed.stdout.trim()}`)
    expect((await b.ipfs(['key', 'list'])).stdout.split('\n')).not.toContain(ref)
  })

  it('a node with another swarm key cannot join', async () => {
    const a = (cluster as Cluster).node('a')
    const outsider = (cluster as Cluster).node('outsider')
    const r = await outsider.ipfs(['swarm', 'connect', a.swarmAddr], { timeoutMs: 60_000 })
    expect(r.code).not.toBe(0)
    expect((await a.ipfs(['swarm', 'peers'])).stdout).not.toContain(outsider.peerId)
    expect((await outsider.ipfs(['swarm', 'peers'])).stdout.trim()).toBe('')
  })
})
