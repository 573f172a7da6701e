// Proves the real-daemon rig (scripts/rig.sh, test/support/rig.ts) works end to end with the Go
// tools we must stay wire-compatible with: containerd answers, the stargz snapshotter is wired in,
// kubo works offline, crane and IPFS Cluster's two commands run, and ctr-remote pushes an image to IPFS, pulls it back (eagerly and lazily)
// and runs it.
import { createHash } from 'node:crypto'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { gzipSync } from 'node:zlib'
import { pack } from 'tar-stream'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { ctr, ctrRemote, ipfs, rigEnv, run, wipeContainerd, type RunResult } from '../support/rig.js'

const imageName = 'docker.io/library/ipcr-rig-busybox:latest'
let work: string
let seq = 0
const containerId = () => `ipcr-rig-${process.pid}-${++seq}` // runc's state dir is shared across containerds

function ok(r: RunResult): RunResult {
  if (r.code !== 0) throw new Error(`exit ${r.code ?? r.signal}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`)
  return r
}

const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex')

async function tarOf(entries: { name: string; body?: Buffer; mode: number; type?: 'file' | 'directory' }[]): Promise<Buffer> {
  const p = pack()
  const chunks: Buffer[] = []
  p.on('data', (c: unknown) => void chunks.push(c as Buffer))
  const done = new Promise<void>((resolve, reject) => {
    p.on('end', resolve)
    p.on('error', reject)
  })
  for (const e of entries) {
    const header = { name: e.name, mode: e.mode, type: e.type ?? 'file', mtime: new Date(0), uid: 0, gid: 0 }
    await new Promise<void>((resolve, reject) => {
      const cb = (err?: Error | null) => (err ? reject(err) : resolve())
      if (e.body) p.entry(header, e.body, cb)
      else p.entry(header, cb)
    })
  }
  p.finalize()
  await done
  return Buffer.concat(chunks)
}

/**
 * A one-layer OCI image layout tar holding Debian's static busybox as /bin/busybox, named by the
 * io.containerd.image.name annotation so `ctr images import` gives it that name.
 */
async function busyboxLayout(): Promise<{ tar: Buffer; layerDigest: string }> {
  const arch = ({ x64: 'amd64', arm64: 'arm64' } as Record<string, string>)[process.arch] ?? process.arch
  const layerTar = await tarOf([
    { name: 'bin', mode: 0o755, type: 'directory' },
    { name: 'bin/busybox', mode: 0o755, body: readFileSync('/bin/busybox') },
  ])
  const layer = gzipSync(layerTar)
  const config = Buffer.from(JSON.stringify({
    architecture: arch,
    os: 'linux',
    config: { Env: ['PATH=/bin'] },
    rootfs: { type: 'layers', diff_ids: [`sha256:${sha256(layerTar)}`] },
  }))
  const manifest = Buffer.from(JSON.stringify({
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: `sha256:${sha256(config)}`, size: config.length },
    layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: `sha256:${sha256(layer)}`, size: layer.length }],
  }))
  const index = Buffer.from(JSON.stringify({
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.index.v1+json',
    manifests: [{
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      digest: `sha256:${sha256(manifest)}`,
      size: manifest.length,
      platform: { architecture: arch, os: 'linux' },
      annotations: { 'io.containerd.image.name': imageName, 'org.opencontainers.image.ref.name': 'latest' },
    }],
  }))
  const tar = await tarOf([
    { name: 'oci-layout', mode: 0o644, body: Buffer.from('{"imageLayoutVersion":"1.0.0"}') },
    { name: 'index.json', mode: 0o644, body: index },
    { name: 'blobs', mode: 0o755, type: 'directory' },
    { name: 'blobs/sha256', mode: 0o755, type: 'directory' },
    ...[layer, config, manifest].map((body) => ({ name: `blobs/sha256/${sha256(body)}`, mode: 0o644, body })),
  ])
  return { tar, layerDigest: `sha256:${sha256(layer)}` }
}

async function importBusybox(): Promise<string> {
  const { tar, layerDigest } = await busyboxLayout()
  const file = join(work, 'busybox-oci.tar')
  writeFileSync(file, tar)
  ok(await ctr(['images', 'import', file]))
  return layerDigest
}

/** The JSON of a blob in kubo. */
async function ipfsJson(cid: string): Promise<any> {
  return JSON.parse(ok(await ipfs(['cat', cid])).stdout)
}

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'ipcr-rig-test-'))
})

afterAll(() => {
  rmSync(work, { recursive: true, force: true })
})

describe('daemons', () => {
  test('containerd answers ctr version', async () => {
    const r = ok(await ctr(['version']))
    expect(r.stdout).toMatch(/Server:\s+Version:\s+\S+/)
  })

  test('ctr plugins ls shows the stargz snapshotter ok', async () => {
    const r = ok(await ctr(['plugins', 'ls']))
    expect(r.stdout).toMatch(/^io\.containerd\.snapshotter\.v1\s+stargz\s+\S+\s+ok\s*$/m)
  })

  test('kubo works offline: ipfs id, add --cid-version=1 (wire-format.md test vector), gateway', async () => {
    const id = JSON.parse(ok(await ipfs(['id'])).stdout) as { ID: string }
    expect(id.ID).toMatch(/^12D3KooW/)
    const vector =
      '{"mediaType":"application/vnd.oci.image.index.v1+json","digest":"sha256:80d6aec48c0a74635a5f3dc106328c1673afaa21ed6e1270a9a44de66e8ffa55","size":314,"urls":["ipfs://bafkreiea22xmjdakorrvuxz5yeddfdawoox2uipnnyjhbknejxtg5d72ku"]}'
    const add = ok(await ipfs(['add', '-Q', '--cid-version=1'], { input: vector }))
    expect(add.stdout.trim()).toBe('bafkreie7754qk7fl56ebauawdgfuqqa3kdd7sotvuhsm6wbz3qin6ssw3a')
    // A blob over one 256 KiB chunk gets a dag-pb root.
    const big = ok(await ipfs(['add', '-Q', '--cid-version=1'], { input: Buffer.alloc(300_000, 7) }))
    expect(big.stdout.trim()).toMatch(/^bafybei/)
    const res = await fetch(`${rigEnv().IPCR_RIG_GATEWAY}/ipfs/${add.stdout.trim()}?format=raw`)
    expect(res.status).toBe(200)
    expect(Buffer.from(await res.arrayBuffer()).toString()).toBe(vector)
    const api = await fetch(`${rigEnv().IPCR_RIG_IPFS_API_URL}/api/v0/version`, { method: 'POST' })
    expect(((await api.json()) as { Version: string }).Version).toMatch(/^\d+\.\d+\.\d+/)
  })

  test('crane runs from its absolute path and is the pinned release', async () => {
    const crane = rigEnv().IPCR_RIG_CRANE
    expect(crane).toMatch(/^\/.*\/crane$/)
    const r = ok(await run(crane, ['version']))
    expect(r.stdout.trim()).toMatch(/^v0\.22\.\d+$/) // scripts/rig.sh CRANE_VERSION, set with -X
  })

  test('ipfs-cluster-service and ipfs-cluster-ctl run from their absolute paths and are the pinned release', async () => {
    const { IPCR_RIG_CLUSTER_SERVICE: service, IPCR_RIG_CLUSTER_CTL: ctl } = rigEnv()
    expect(service).toMatch(/^\/.*\/ipfs-cluster-service$/)
    expect(ctl).toMatch(/^\/.*\/ipfs-cluster-ctl$/)
    // scripts/rig.sh CLUSTER_VERSION; both commands carry the release in their own source.
    expect(ok(await run(service, ['--version'])).stdout.trim()).toBe('ipfs-cluster-service version 1.1.6')
    expect(ok(await run(ctl, ['--version'])).stdout.trim()).toBe('ipfs-cluster-ctl version 1.1.6')
  })

  test('ctr-remote runs and has the IPFS subcommands', async () => {
    const r = ok(await ctrRemote(['images', '--help']))
    expect(r.stdout).toMatch(/ipfs-push/)
    expect(r.stdout).toMatch(/rpull/)
  })
})

describe('ctr-remote through IPFS', () => {
  test('ipfs-push --estargz=false prints a CID; rpull --ipfs of it; run', async () => {
    const layerDigest = await importBusybox()
    const push = ok(await ctrRemote(['images', 'ipfs-push', '--estargz=false', imageName]))
    const cid = push.stdout.trim()
    expect(cid).toMatch(/^bafkrei[a-z2-7]{52}$/)
    // The root is a descriptor of the image's target (here the manifest `ctr images import` named).
    const root = await ipfsJson(cid)
    expect(root.mediaType).toBe('application/vnd.oci.image.manifest.v1+json')
    expect(root.urls).toEqual([expect.stringMatching(/^ipfs:\/\/bafkrei/)])
    const manifest = await ipfsJson(root.urls[0].slice('ipfs://'.length))
    expect(manifest.layers[0].digest).toBe(layerDigest) // not converted
    expect(manifest.layers[0].urls).toEqual([expect.stringMatching(/^ipfs:\/\/bafybei/)])

    ok(await ctr(['images', 'rm', '--sync', imageName]))
    ok(await ctrRemote(['images', 'rpull', '--ipfs', cid]))
    const content = ok(await ctr(['content', 'ls', '-q'])).stdout
    expect(content).toContain(layerDigest) // plain gzip: fetched and unpacked, not lazy

    const r = ok(await ctrRemote(['run', '--rm', '--snapshotter=stargz', cid, containerId(), '/bin/busybox', 'echo', 'hi']))
    expect(r.stdout.trim()).toBe('hi')
  })

  test('ipfs-push (eStargz) + rpull --ipfs mounts the layer lazily from IPFS', async () => {
    await wipeContainerd()
    await importBusybox()
    const cid = ok(await ctrRemote(['images', 'ipfs-push', imageName])).stdout.trim()
    expect(cid).toMatch(/^bafkrei/)
    const root = await ipfsJson(cid)
    const manifest = await ipfsJson(root.urls[0].slice('ipfs://'.length))
    const layer = manifest.layers[0]
    expect(layer.annotations['containerd.io/snapshot/stargz/toc.digest']).toMatch(/^sha256:[0-9a-f]{64}$/)

    ok(await ctr(['images', 'rm', '--sync', imageName]))
    ok(await ctrRemote(['images', 'rpull', '--ipfs', cid]))
    // The snapshotter answered Prepare with ALREADY_EXISTS (mounted from IPFS), so containerd
    // never fetched the layer blob.
    expect(ok(await ctr(['content', 'ls', '-q'])).stdout).not.toContain(layer.digest)
    expect(readFileSync(rigEnv().IPCR_RIG_STARGZ_LOG, 'utf8')).toMatch(/"remote-snapshot-prepared":"true"/)
    const fuse = readFileSync('/proc/self/mountinfo', 'utf8').split('\n')
      .filter((l) => l.includes(`${rigEnv().IPCR_RIG_STARGZ_ROOT}/`) && / - fuse/.test(l))
    expect(fuse.length).toBeGreaterThan(0)

    const r = ok(await ctrRemote(['run', '--rm', '--snapshotter=stargz', cid, containerId(), '/bin/busybox', 'echo', 'lazy hi']))
    expect(r.stdout.trim()).toBe('lazy hi')
  })

  test('wipeContainerd() empties containerd but keeps IPFS', async () => {
    const pins = async () => ok(await ipfs(['pin', 'ls', '--type=recursive', '-q'])).stdout.split('\n').sort()
    const pinsBefore = await pins()
    expect(pinsBefore.length).toBeGreaterThan(3)
    await wipeContainerd()
    expect(ok(await ctr(['images', 'ls', '-q'])).stdout.trim()).toBe('')
    expect(ok(await ctr(['content', 'ls', '-q'])).stdout.trim()).toBe('')
    expect(await pins()).toEqual(pinsBefore)
    expect(ok(await ctr(['plugins', 'ls'])).stdout).toMatch(/^io\.containerd\.snapshotter\.v1\s+stargz\s+\S+\s+ok\s*$/m)
  })
})
