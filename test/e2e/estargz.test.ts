// Issue 3: layers ipcr converts are accepted by the Go eStargz package and mounted lazily by the real
// stargz snapshotter; layers ctr-remote converts are read and verified by our reader.
import { beforeAll, describe, expect, it } from 'vitest'
import { createReadStream, createWriteStream } from 'node:fs'
import { cp, mkdtemp, readFile, writeFile, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pipeline } from 'node:stream/promises'
import { createGunzip, gzipSync } from 'node:zlib'
import { EstargzReader, fileSource, verifyEstargz } from '../../src/estargz/index.js'
import { buildFixtures, tarBuffer, type Fixtures } from '../../src/testkit/index.js'
import { goCheck } from '../estargz-check/checker.js'
import { blobPath, manifestsOf, readJsonBlob } from '../support/layout-read.js'
import { ctr, ctrRemote, rigEnv, wipeContainerd } from '../support/rig.js'
import { expectCleanFailure, ipcr } from '../support/ipcr.js'

let fx: Fixtures
let work: string

/** The uncompressed tar of a layer blob, which the Go checker compares file by file. */
async function plainTar(blob: string, out: string): Promise<string> {
  const head = (await readFile(blob)).subarray(0, 2)
  if (head[0] === 0x1f && head[1] === 0x8b) await pipeline(createReadStream(blob), createGunzip(), createWriteStream(out))
  else await cp(blob, out)
  return out
}

beforeAll(async () => {
  fx = await buildFixtures(join(tmpdir(), 'ipcr-fixtures'))
  work = await mkdtemp(join(tmpdir(), 'ipcr-esgz-'))
})

describe('ipcr image convert --estargz, judged by the Go estargz package', () => {
  it.each(['single', 'multi', 'platforms'] as const)('every layer of the %s fixture passes the Go checker', async (which) => {
    const src = fx[which]
    const out = join(work, `conv-${which}`)
    const r = await ipcr(['i', 'convert', '--estargz', '--all-platforms', `oci-layout:${src.layout}`, `oci-layout:${out}:esgz`])
    expect(r.code, r.stderr).toBe(0)
    const converted = await manifestsOf(out)
    const original = await manifestsOf(src.layout)
    expect(converted).toHaveLength(original.length)
    for (const [m, manifest] of converted.entries()) {
      const config = await readJsonBlob<{ rootfs: { diff_ids: string[] } }>(out, manifest.config.digest)
      for (const [i, layer] of manifest.layers.entries()) {
        const tocDigest = layer.annotations?.['containerd.io/snapshot/stargz/toc.digest']
        expect(tocDigest).toMatch(/^sha256:/)
        expect(layer.mediaType).toBe('application/vnd.oci.image.layer.v1.tar+gzip')
        const source = await plainTar(blobPath(src.layout, original[m]!.layers[i]!.digest), join(work, `src-${which}-${m}-${i}.tar`))
        const summary = await goCheck(blobPath(out, layer.digest), source, { tocDigest, diffId: config.rootfs.diff_ids[i] })
        expect(summary.ok).toBe(true)
        expect(String(summary.uncompressedSize)).toBe(layer.annotations?.['io.containers.estargz.uncompressed-size'])
      }
    }
  })

  it('converts a docker save archive too', async () => {
    const out = join(work, 'conv-docker')
    const r = await ipcr(['i', 'convert', '--estargz', `docker-archive:${fx.dockerArchive.path}`, `oci-layout:${out}`])
    expect(r.code, r.stderr).toBe(0)
    const [manifest] = await manifestsOf(out)
    expect(manifest?.layers).toHaveLength(fx.dockerArchive.layers.length)
    for (const layer of manifest!.layers) {
      await verifyEstargz(await fileSource(blobPath(out, layer.digest)), { tocDigest: layer.annotations?.['containerd.io/snapshot/stargz/toc.digest'] as string })
    }
  })

  /** A copy of the single fixture whose only layer is replaced by `bad`. */
  async function layoutWithLayer(name: string, bad: Buffer, mediaType: string): Promise<{ dir: string; digest: string }> {
    const { createHash } = await import('node:crypto')
    const dir = join(work, name)
    await cp(fx.single.layout, dir, { recursive: true })
    const digest = `sha256:${createHash('sha256').update(bad).digest('hex')}`
    await writeFile(blobPath(dir, digest), bad)
    // The manifest now names the bad blob as its layer; index.json names that manifest.
    const index = JSON.parse(await readFile(join(dir, 'index.json'), 'utf8'))
    const manifest = JSON.parse(await readFile(blobPath(dir, index.manifests[0].digest), 'utf8'))
    manifest.layers[0] = { mediaType, digest, size: bad.length }
    const newManifest = Buffer.from(JSON.stringify(manifest))
    const newDigest = `sha256:${createHash('sha256').update(newManifest).digest('hex')}`
    await writeFile(blobPath(dir, newDigest), newManifest)
    index.manifests[0] = { ...index.manifests[0], digest: newDigest, size: newManifest.length }
    await writeFile(join(dir, 'index.json'), JSON.stringify(index))
    return { dir, digest }
  }

  it.each([
    ['not a tar', async () => Buffer.from('this is not a tar archive at all\n'.repeat(40)), 'application/vnd.oci.image.layer.v1.tar'],
    ['a truncated gzip', async () => {
      const gz = gzipSync(await tarBuffer([{ path: 'a.txt', type: 'file', content: Buffer.alloc(100_000, 7) }]))
      return gz.subarray(0, gz.length >> 1)
    }, 'application/vnd.oci.image.layer.v1.tar+gzip'],
    ['an unsupported tar entry type (a PAX global header)', async () => {
      // A global extended header ('g') sets defaults for every later entry; the Go tools refuse it too.
      const header = Buffer.alloc(512)
      header.write('pax_global_header', 0)
      header.write('0000644\0', 100); header.write('0000000\0', 108); header.write('0000000\0', 116)
      const body = Buffer.from('19 comment=global\n')
      header.write(body.length.toString(8).padStart(11, '0') + '\0', 124)
      header.write('00000000000\0', 136)
      header.write('g', 156)
      header.write('ustar\0' + '00', 257)
      header.fill(0x20, 148, 156)
      let sum = 0
      for (const b of header) sum += b
      header.write(sum.toString(8).padStart(6, '0') + '\0 ', 148)
      const padded = Buffer.concat([body, Buffer.alloc(512 - body.length)])
      return Buffer.concat([header, padded, await tarBuffer([{ path: 'a.txt', type: 'file', content: 'x' }])])
    }, 'application/vnd.oci.image.layer.v1.tar'],
  ] as const)('rejects %s with one line naming the layer, and leaves the destination untouched', async (what, make, mediaType) => {
    const says = { 'not a tar': /not a tar archive/, 'a truncated gzip': /gzip stream is truncated/ }[what as string] ?? /unsupported tar entry: pax_global_header/
    const bad = await layoutWithLayer(`bad-${what.replace(/\W+/g, '-')}`, await make(), mediaType)
    const dest = join(work, `untouched-${what.replace(/\W+/g, '-')}`)
    await cp(fx.single.layout, dest, { recursive: true })
    const before = await readFile(join(dest, 'index.json'))
    const line = expectCleanFailure(await ipcr(['i', 'convert', '--estargz', `oci-layout:${bad.dir}`, `oci-layout:${dest}:converted`]))
    expect(line).toContain(`converting layer ${bad.digest} to eStargz`)
    expect(line).toMatch(says)
    expect(await readFile(join(dest, 'index.json'))).toEqual(before)
  })
})

describe('interop with ctr-remote and the stargz snapshotter', () => {
  beforeAll(async () => {
    await wipeContainerd()
    for (const tar of [fx.single.tar, fx.multi.tar]) {
      const r = await ctr(['images', 'import', tar])
      expect(r.code, r.stderr).toBe(0)
    }
  })

  it('our reader opens and verifies every layer ctr-remote converts', async () => {
    for (const img of [fx.single, fx.multi]) {
      const target = `${img.name}-esgz`
      const c = await ctrRemote(['i', 'convert', '--estargz', '--oci', img.name, target])
      expect(c.code, c.stderr).toBe(0)
      const out = join(work, `theirs-${img.name.replace(/[/:]/g, '_')}`)
      const exported = await ipcr(['i', 'copy', '--all-platforms', target, `oci-layout:${out}`])
      expect(exported.code, exported.stderr).toBe(0)
      for (const manifest of await manifestsOf(out)) {
        for (const layer of manifest.layers) {
          const tocDigest = layer.annotations?.['containerd.io/snapshot/stargz/toc.digest'] as string
          expect(tocDigest).toMatch(/^sha256:/)
          const report = await verifyEstargz(await fileSource(blobPath(out, layer.digest)), { tocDigest })
          expect(report).toBeTruthy()
          const reader = await EstargzReader.open(await fileSource(blobPath(out, layer.digest)), { tocDigest })
          expect(reader.toc.entries.length).toBeGreaterThan(0)
        }
      }
    }
  })

  it('an image ipcr pushed as eStargz is pulled lazily by ctr-remote and runs; every layer is a remote snapshot', async () => {
    const pushed = await ipcr(['i', 'ipfs-push', '--json', fx.multi.name])
    expect(pushed.code, pushed.stderr).toBe(0)
    const result = JSON.parse(pushed.stdout) as { root: string; blobs: Array<{ mediaType: string; digest: string }> }
    const cid = result.root
    await wipeContainerd()
    const logBefore = (await stat(rigEnv().IPCR_RIG_STARGZ_LOG)).size
    const pulled = await ctrRemote(['i', 'rpull', '--ipfs', cid])
    expect(pulled.code, pulled.stderr).toBe(0)
    const out = await ctrRemote(['run', '--rm', '--snapshotter=stargz', cid, `esgz-${process.pid}`, '/bin/cat', '/data/tree/a/x.txt'])
    expect(out.stdout).toBe('x from layer 3\n')
    const layers = result.blobs.filter((b) => b.mediaType.includes('layer'))
    expect(layers).toHaveLength(3)
    // The snapshotter logs each Prepare by key (containing the chain ID): one remote mount per layer, no fallback.
    const log = (await readFile(rigEnv().IPCR_RIG_STARGZ_LOG)).subarray(logBefore).toString()
    expect(log.match(/"remote-snapshot-prepared":"true"/g)).toHaveLength(3)
    expect(log).not.toMatch(/"remote-snapshot-prepared":"false"/)
  })

  it('a second push from containerd reuses the stored conversions and prints the same root CID', async () => {
    await wipeContainerd()
    expect((await ctr(['images', 'import', fx.multi.tar])).code).toBe(0)
    const first = await ipcr(['i', 'ipfs-push', '--ipns=false', '--json', fx.multi.name])
    expect(first.code, first.stderr).toBe(0)
    expect(first.stderr.match(/^converted sha256:/gm)).toHaveLength(3)
    // The converted layers live in containerd's content store, labelled with their diff IDs.
    const labelled = (await ctr(['content', 'ls'])).stdout.split('\n').filter((l) => l.includes('containerd.io/uncompressed=') && l.includes('ipcr.io/annotation.containerd.io/snapshot/stargz/toc.digest='))
    expect(labelled).toHaveLength(3)
    const second = await ipcr(['i', 'ipfs-push', '--ipns=false', '--json', fx.multi.name])
    expect(second.code, second.stderr).toBe(0)
    expect(second.stderr.match(/^reused the eStargz conversion of sha256:/gm)).toHaveLength(3)
    expect(second.stderr).not.toMatch(/^converted /m)
    expect(JSON.parse(second.stdout).root).toBe(JSON.parse(first.stdout).root)
    // Other options are another conversion: nothing is reused across them.
    const other = await ipcr(['i', 'ipfs-push', '--ipns=false', '--estargz-chunk-size', '1048576', fx.multi.name])
    expect(other.stderr.match(/^converted sha256:/gm)).toHaveLength(3)
  })
})
