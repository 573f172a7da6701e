// Our eStargz writer against the real stargz snapshotter: a layer converted by writeEstargz,
// published to kubo as an IPFS-enabled image by hand (no ipcr push involved), is mounted lazily by
// containerd-stargz-grpc (containerd never fetches the blob), and a container reads every file
// back intact through the snapshotter's chunk-verifying FUSE filesystem. With a wrong toc.digest
// annotation the snapshotter must refuse the lazy mount.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createHash } from 'node:crypto'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { writeEstargzFile, TOC_DIGEST_ANNOTATION, UNCOMPRESSED_SIZE_ANNOTATION, type EstargzResult } from '../../src/estargz/index.js'
import { ctr, ctrRemote, ipfs, wipeContainerd, type RunResult } from '../support/rig.js'
import { bytes, tarOf, type FixtureEntry } from '../estargz-check/fixture.js'

const sha256 = (b: Uint8Array) => `sha256:${createHash('sha256').update(b).digest('hex')}`
let work: string
let layerPath: string
let layer: EstargzResult
let seq = 0

function ok(r: RunResult): RunResult {
  if (r.code !== 0) throw new Error(`exit ${r.code ?? r.signal}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`)
  return r
}

async function add(body: Buffer | string): Promise<string> {
  const path = join(work, `blob-${++seq}`)
  await writeFile(path, body)
  return ok(await ipfs(['add', '-Q', '--cid-version=1', '--raw-leaves', '--chunker=size-262144', path])).stdout.trim()
}

const nine = bytes(9 * (1 << 20) + 4321, 'e2e-nine')
const files: Record<string, Buffer> = {
  'data/nine': nine,
  'data/one': Buffer.from('1'),
  'data/empty': Buffer.alloc(0),
  'data/four': bytes(4 << 20, 'e2e-four'),
  'data/hard': Buffer.from('1'),
}

function entries(): FixtureEntry[] {
  const h = { uid: 0, gid: 0, mtime: new Date('2024-01-02T03:04:05Z') }
  return [
    { header: { name: 'bin/', type: 'directory', mode: 0o755, ...h } },
    { header: { name: 'bin/busybox', type: 'file', mode: 0o755, ...h }, content: readFileSync('/bin/busybox') },
    { header: { name: 'data/', type: 'directory', mode: 0o755, ...h } },
    { header: { name: 'data/nine', type: 'file', mode: 0o640, ...h }, content: files['data/nine'] },
    { header: { name: 'data/one', type: 'file', mode: 0o600, ...h, uid: 1234, pax: { 'SCHILY.xattr.user.color': 'blue' } }, content: files['data/one'] },
    { header: { name: 'data/empty', type: 'file', mode: 0o644, ...h }, content: files['data/empty'] },
    { header: { name: 'data/four', type: 'file', mode: 0o644, ...h }, content: files['data/four'] },
    { header: { name: 'data/link', type: 'symlink', linkname: 'nine', mode: 0o777, ...h } },
    { header: { name: 'data/hard', type: 'link', linkname: 'data/one', mode: 0o600, ...h, uid: 1234 } },
  ]
}

/** Publish a one-layer image whose layer is our eStargz; returns the root CID ctr-remote pulls. */
async function publish(tocDigest: string): Promise<string> {
  const arch = ({ x64: 'amd64', arm64: 'arm64' } as Record<string, string>)[process.arch] ?? process.arch
  const blob = await readFile(layerPath)
  const layerCid = await add(blob)
  const config = Buffer.from(JSON.stringify({
    architecture: arch,
    os: 'linux',
    config: { Env: ['PATH=/bin'] },
    rootfs: { type: 'layers', diff_ids: [layer.diffId] },
  }))
  const configCid = await add(config)
  const manifest = Buffer.from(JSON.stringify({
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha256(config), size: config.length, urls: [`ipfs://${configCid}`] },
    layers: [{
      mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip',
      digest: layer.digest,
      size: layer.compressedSize,
      urls: [`ipfs://${layerCid}`],
      annotations: { [TOC_DIGEST_ANNOTATION]: tocDigest, [UNCOMPRESSED_SIZE_ANNOTATION]: String(layer.uncompressedSize) },
    }],
  }))
  const manifestCid = await add(manifest)
  return add(JSON.stringify({
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    digest: sha256(manifest),
    size: manifest.length,
    urls: [`ipfs://${manifestCid}`],
  }))
}

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'ipcr-estargz-e2e-'))
  const tarPath = join(work, 'layer.tar')
  await writeFile(tarPath, await tarOf(entries()))
  layerPath = join(work, 'layer.esgz')
  layer = await writeEstargzFile({ tarFile: tarPath }, layerPath)
})

afterAll(async () => {
  await rm(work, { recursive: true, force: true })
})

describe('the stargz snapshotter mounts our eStargz', () => {
  it('lazily, from IPFS, and a container reads every file back intact', async () => {
    await wipeContainerd()
    const cid = await publish(layer.tocDigest)
    ok(await ctrRemote(['images', 'rpull', '--ipfs', cid]))
    // ALREADY_EXISTS from Prepare: the layer was mounted remotely, its blob never fetched.
    expect(ok(await ctr(['content', 'ls', '-q'])).stdout).not.toContain(layer.digest)

    const script = [
      'cd /data',
      'sha256sum nine one empty four hard',
      'stat -c "%n %a %u %h" nine one hard',
      'readlink link',
      'head -c 5 link | od -An -tx1',
    ].join(' && ')
    const r = ok(await ctrRemote(['run', '--rm', '--snapshotter=stargz', cid, `estargz-e2e-${process.pid}`, '/bin/busybox', 'sh', '-c', script]))
    const lines = r.stdout.trim().split('\n')
    const sums = Object.fromEntries(lines.slice(0, 5).map((l) => l.trim().split(/\s+/).reverse()))
    for (const name of ['nine', 'one', 'empty', 'four', 'hard']) {
      expect(`sha256:${sums[name]}`, name).toBe(sha256(files[`data/${name}`]!))
    }
    expect(lines.slice(5, 8)).toEqual(['nine 640 0 1', 'one 600 1234 2', 'hard 600 1234 2'])
    expect(lines[8]).toBe('nine')
    expect(lines[9]!.trim()).toBe(Array.from(nine.subarray(0, 5), (b) => b.toString(16).padStart(2, '0')).join(' '))
  })

  it('refuses the lazy mount when the toc.digest annotation does not match', async () => {
    await wipeContainerd()
    const cid = await publish(`sha256:${'0'.repeat(64)}`)
    ok(await ctrRemote(['images', 'rpull', '--ipfs', cid]))
    // The snapshotter declines (Prepare succeeds without ALREADY_EXISTS), so containerd falls
    // back to fetching and applying the blob itself: it is in the content store.
    expect(ok(await ctr(['content', 'ls', '-q'])).stdout).toContain(layer.digest)
  })
})
