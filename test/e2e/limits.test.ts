// One set of limits for push, convert and pull (src/oci/limits.ts): a gzip bomb stops within a
// bounded amount of scratch space, and what push refuses (a 50 MB config, 10,000 layers) is what
// pull refuses, each with one line naming the flag that raises the limit.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { spawn } from 'node:child_process'
import { copyFile, mkdtemp, readdir, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { gzipSync } from 'node:zlib'
import { MT, OciLayoutWriter, buildFixtures, goJsonBytes, imageConfig, type Descriptor, type LayerBlob } from '../../src/testkit/index.js'
import { expectCleanFailure, ipcr } from '../support/ipcr.js'
import { ipcrBin } from '../support/cluster.js'
import { ctr, run } from '../support/rig.js'

let work: string
let env: NodeJS.ProcessEnv
let base: LayerBlob
let baseLayout: string

const amd64 = { architecture: 'amd64', os: 'linux' }
const fakeDiffId = `sha256:${'0'.repeat(64)}`

/** A ustar header for a regular file of `size` bytes (sizes below 8 GiB fit its octal field). */
function tarHeader(name: string, size: number): Buffer {
  const h = Buffer.alloc(512)
  const field = (value: string, at: number, len: number): void => { h.write(value.padEnd(len, '\0').slice(0, len), at, 'latin1') }
  const octal = (n: number, len: number): string => `${n.toString(8).padStart(len - 1, '0')}\0`
  field(name, 0, 100)
  field(octal(0o644, 8), 100, 8)
  field(octal(0, 8), 108, 8)
  field(octal(0, 8), 116, 8)
  field(octal(size, 12), 124, 12)
  field(octal(0, 12), 136, 12)
  field('0', 156, 1)
  field('ustar\0', 257, 6)
  field('00', 263, 2)
  h.fill(0x20, 148, 156)
  let sum = 0
  for (const b of h) sum += b
  field(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 8)
  return h
}

/**
 * A gzip bomb as a real layer: ten files of 1 GiB of zeros, 10 GiB of tar, in about 10 MB of
 * gzip. Made of gzip members (one for each header, one per 64 MiB of zeros, reused), which every
 * gzip reader takes as one stream, so it is built in a second.
 */
function gzipBomb(): Buffer {
  const zeros = gzipSync(Buffer.alloc(64 << 20), { level: 9 })
  const parts: Buffer[] = []
  for (let f = 0; f < 10; f++) {
    parts.push(gzipSync(tarHeader(`zeros-${f}.bin`, 1 << 30)))
    for (let i = 0; i < 16; i++) parts.push(zeros)
  }
  parts.push(gzipSync(Buffer.alloc(1024)))
  return Buffer.concat(parts)
}

/** A one-manifest layout from these layers and config fields, named ipcr.test/limits:<tag>. */
async function layout(tag: string, layers: LayerBlob[], extraConfig: Record<string, unknown> = {}): Promise<string> {
  const dir = join(work, tag)
  const w = await new OciLayoutWriter(dir).init()
  for (const l of layers) {
    if (l === base) await copyFile(join(baseLayout, 'blobs', 'sha256', l.descriptor.digest.slice(7)), w.blobPath(l.descriptor.digest))
  }
  const config = await w.writeBlob(goJsonBytes({ ...imageConfig({ platform: amd64, layers }), ...extraConfig }), MT.ociConfig)
  const manifest = await w.writeJsonBlob({ schemaVersion: 2, mediaType: MT.ociManifest, config, layers: layers.map((l) => l.descriptor) }, MT.ociManifest)
  await w.writeIndex([{ name: `ipcr.test/limits:${tag}`, descriptor: manifest }])
  return dir
}

/** Run ipcr to its end while measuring, every 50 ms, how much its scratch directory holds. */
async function withScratchPeak(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string; peak: number }> {
  const child = spawn(ipcrBin, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (b: Buffer) => { stdout += b.toString() })
  child.stderr.on('data', (b: Buffer) => { stderr += b.toString() })
  let code: number | null | undefined
  const closed = new Promise<void>((resolve) => child.on('close', (c) => { code = c; resolve() }))
  let peak = 0
  for (let i = 0; i < 6000 && code === undefined; i++) {
    const du = await run('du', ['-sb', join(env.IPCR_ROOT as string, 'scratch')])
    peak = Math.max(peak, Number(du.stdout.split('\t')[0]) || 0)
    await new Promise((r) => setTimeout(r, 50))
  }
  await closed
  return { code: code ?? null, stdout, stderr, peak }
}

const ipcrLeases = async (): Promise<string[]> => (await ctr(['leases', 'ls'])).stdout.split('\n').filter((l) => l.includes('ipcr.io/rpull'))

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'ipcr-limits-e2e-'))
  env = { IPCR_ROOT: join(work, 'root'), IPFS_PATH: join(work, 'no-ipfs') }
  const fx = await buildFixtures(join(tmpdir(), 'ipcr-fixtures'))
  const single = fx.single.manifests[0]
  if (!single?.layers[0]) throw new Error('the single fixture has no layer')
  baseLayout = fx.single.layout
  base = { descriptor: single.layers[0], diffId: single.diffIds[0] as string, comment: 'busybox base' }
})

afterAll(async () => {
  await rm(work, { recursive: true, force: true })
})

describe('image limits', () => {
  it('a gzip bomb (10 MB -> 10 GiB) is refused by push and convert within 1 GiB of scratch space', async () => {
    const w = await new OciLayoutWriter(join(work, 'bomb-blobs')).init()
    const bytes = gzipBomb()
    expect(bytes.byteLength).toBeLessThan(12 << 20)
    const descriptor: Descriptor = await w.writeBlob(bytes, MT.ociLayerGzip)
    const dir = await layout('bomb', [{ descriptor, diffId: fakeDiffId, comment: 'gzip bomb' }])
    await copyFile(w.blobPath(descriptor.digest), join(dir, 'blobs', 'sha256', descriptor.digest.slice(7)))

    for (const args of [['i', 'ipfs-push', `oci-layout:${dir}`], ['i', 'convert', '--estargz', `oci-layout:${dir}`, `oci-layout:${join(work, 'bomb-out')}`]]) {
      const r = await withScratchPeak(args)
      const line = expectCleanFailure({ ...r, signal: null })
      expect(line).toContain(descriptor.digest)
      expect(line).toMatch(/the layer expands past 1 GiB .* \(raise the limit with --max-layer-ratio\)$/)
      // The bound: 1 GiB of spool, the 10 MB copy of the layer, and one 1 MiB batch in flight.
      expect(r.peak).toBeGreaterThan(512 << 20) // it did expand, up to the limit
      expect(r.peak).toBeLessThan((1 << 30) + (32 << 20))
      expect(await readdir(join(env.IPCR_ROOT as string, 'scratch'))).toEqual([])
    }
    // Nothing was published, nor converted.
    expect((await ipcr(['i', 'ls', '--ipfs', '--json'], { env })).stdout.trim()).toBe('[]')
    expect(await readdir(join(work, 'bomb-out')).catch(() => [])).not.toContain('index.json')
  })

  it('a 50 MB config is refused by push and by pull alike; --max-config-size raises the limit for both', async () => {
    const dir = await layout('big-config', [base], { 'ipcr.test/padding': 'x'.repeat(50_000_000) })
    const refused = expectCleanFailure(await ipcr(['i', 'ipfs-push', '--estargz=false', `oci-layout:${dir}`], { env }))
    expect(refused).toMatch(/is 47\.7 MiB, over the 16 MiB limit for an image config \(raise the limit with --max-config-size\)$/)
    expect((await ipcr(['i', 'ls', '--ipfs', '--json'], { env })).stdout.trim()).toBe('[]')

    const pushed = await ipcr(['i', 'ipfs-push', '--estargz=false', '--ipns=false', '--max-config-size', '64MiB', `oci-layout:${dir}`])
    expect(pushed.code, pushed.stderr).toBe(0)
    const cid = pushed.stdout.trim()
    const pulled = expectCleanFailure(await ipcr(['i', 'rpull', '--snapshotter=overlayfs', '--ipfs', cid]))
    expect(pulled).toMatch(/over the 16 MiB limit for an image config \(raise the limit with --max-config-size\)$/)
    expect(await ipcrLeases()).toEqual([])
    const raised = await ipcr(['i', 'rpull', '--snapshotter=overlayfs', '--max-config-size', '64m', '--ipfs', cid])
    expect(raised.code, raised.stderr).toBe(0)
    expect((await ipcr(['i', 'ls', '-q'])).stdout.split('\n')).toContain(cid)
    await ipcr(['i', 'rm', cid])
  })

  it('a manifest of 10,000 layers is refused by push and by pull before anything is written', async () => {
    const dir = await layout('many-layers', Array.from({ length: 10_000 }, () => base))
    const refused = expectCleanFailure(await ipcr(['i', 'ipfs-push', '--estargz=false', `oci-layout:${dir}`], { env }))
    expect(refused).toMatch(/has 10000 layers, over the limit of 500 \(raise the limit with --max-layers\)$/)

    const pushed = await ipcr(['i', 'ipfs-push', '--estargz=false', '--ipns=false', '--max-layers', '10000', `oci-layout:${dir}`])
    expect(pushed.code, pushed.stderr).toBe(0)
    const before = (await ctr(['snapshots', '--snapshotter', 'overlayfs', 'ls'])).stdout
    const pulled = expectCleanFailure(await ipcr(['i', 'rpull', '--snapshotter=overlayfs', '--ipfs', pushed.stdout.trim()]))
    expect(pulled).toMatch(/has 10000 layers, over the limit of 500 \(raise the limit with --max-layers\)$/)
    expect(await ipcrLeases()).toEqual([])
    expect((await ctr(['snapshots', '--snapshotter', 'overlayfs', 'ls'])).stdout).toBe(before)
    expect(expectCleanFailure(await ipcr(['i', 'ipfs-push', '--max-layers', 'many', `oci-layout:${dir}`], { env }))).toBe('ipcr: --max-layers takes a whole number of at least 1, not "many"')
  })
})
