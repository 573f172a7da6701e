// The test kit builds every fixture other tests rely on, so its promises are tested here:
// determinism, soundness of the layouts, and that the tar features the fixtures exist for are
// really in the layers.
import { createHash } from 'node:crypto'
import { cp, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, relative } from 'node:path'
import { gunzipSync } from 'node:zlib'
import { Readable, Writable } from 'node:stream'
import tar, { type Header } from 'tar-stream'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  buildFixtures,
  FIXED_DATE,
  FIXTURE_NAMES,
  layers,
  MT,
  prngBytes,
  prngStream,
  STAMP_FILE,
  tarBuffer,
  writeTar,
  validateLayout,
  writeRandomImage,
  type Descriptor,
  type Fixtures,
} from '../../src/testkit/index.js'

interface Entry {
  header: Header
  data: Buffer
}

async function readTar(buf: Buffer): Promise<Entry[]> {
  const out: Entry[] = []
  const ex = tar.extract()
  const done = (async () => {
    for await (const entry of ex) {
      const chunks: Buffer[] = []
      for await (const c of entry) chunks.push(c as Buffer)
      out.push({ header: entry.header, data: Buffer.concat(chunks) })
    }
  })()
  Readable.from([buf]).pipe(ex as unknown as NodeJS.WritableStream)
  await done
  return out
}

async function listFiles(dir: string): Promise<string[]> {
  const out: string[] = []
  for (const e of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (e.isFile()) out.push(relative(dir, join(e.parentPath, e.name)))
  }
  return out.sort()
}

function sha256(b: Uint8Array): string {
  return `sha256:${createHash('sha256').update(b).digest('hex')}`
}

const blob = (layout: string, d: Pick<Descriptor, 'digest'>) => readFile(join(layout, 'blobs', 'sha256', d.digest.slice(7)))
const json = async (layout: string, d: Pick<Descriptor, 'digest'>) => JSON.parse((await blob(layout, d)).toString('utf8'))

let work: string
let fx: Fixtures

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'ipcr-testkit-'))
  fx = await buildFixtures(join(work, 'a'))
})

afterAll(async () => {
  await rm(work, { recursive: true, force: true })
})

describe('buildFixtures', () => {
  it('writes byte-identical outputs when built again from scratch', async () => {
    const again = await buildFixtures(join(work, 'b'), { force: true })
    const filesA = await listFiles(fx.dir)
    const filesB = await listFiles(again.dir)
    expect(filesB).toEqual(filesA)
    expect(filesA).toContain(STAMP_FILE)
    for (const f of filesA) {
      const [a, b] = await Promise.all([readFile(join(fx.dir, f)), readFile(join(again.dir, f))])
      expect(a.equals(b), f).toBe(true)
    }
    expect(again.multi.root).toEqual(fx.multi.root)
  })

  it('reuses a stamped build instead of rebuilding', async () => {
    const before = await stat(join(fx.dir, STAMP_FILE))
    const again = await buildFixtures(fx.dir)
    expect((await stat(join(fx.dir, STAMP_FILE))).mtimeMs).toBe(before.mtimeMs)
    expect(again).toEqual(fx)
  })

  it('leaves no temp files behind', async () => {
    const names = await readdir(fx.dir)
    expect(names.filter((n) => n.includes('.tmp') || n.includes('.old-'))).toEqual([])
  })

  it('names each image in index.json the way ctr import reads it', async () => {
    for (const img of [fx.single, fx.multi, fx.platforms]) {
      const index = JSON.parse(await readFile(join(img.layout, 'index.json'), 'utf8'))
      expect(index.manifests).toHaveLength(1)
      expect(index.manifests[0]).toEqual(img.indexEntry)
      expect(img.indexEntry.annotations).toEqual({
        'io.containerd.image.name': img.name,
        'org.opencontainers.image.ref.name': '1',
      })
      expect(img.root).toEqual({ mediaType: img.indexEntry.mediaType, digest: img.indexEntry.digest, size: img.indexEntry.size })
      expect(await readFile(join(img.layout, 'oci-layout'), 'utf8')).toBe('{"imageLayoutVersion":"1.0.0"}')
    }
    expect(fx.single.name).toBe(FIXTURE_NAMES.single)
    expect(fx.platforms.name).toBe('ipcr.test/platforms:1')
  })

  it('writes gzip layers with a fixed header (no mtime, OS 255)', async () => {
    const layer = fx.single.manifests[0]!.layers[0]!
    const head = (await blob(fx.single.layout, layer)).subarray(0, 10)
    expect(head.toString('hex')).toMatch(/^1f8b0800000000000.ff$/)
  })

  it('builds single as a one-layer OCI busybox image', async () => {
    const m = fx.single.manifests[0]!
    expect(fx.single.root.mediaType).toBe(MT.ociManifest)
    expect(m.layers.map((l) => l.mediaType)).toEqual([MT.ociLayerGzip])
    const config = await json(fx.single.layout, m.config)
    expect(config.architecture).toBe('amd64')
    expect(config.os).toBe('linux')
    expect(config.config.Cmd).toEqual(['/bin/sh'])
    expect(config.config.Env[0]).toMatch(/^PATH=/)
    expect(config.rootfs).toEqual({ type: 'layers', diff_ids: m.diffIds })

    const entries = await readTar(gunzipSync(await blob(fx.single.layout, m.layers[0]!)))
    const byName = new Map(entries.map((e) => [e.header.name, e]))
    expect(byName.get('bin/busybox')!.data.equals(await readFile('/bin/busybox'))).toBe(true)
    expect(byName.get('bin/busybox')!.header.mode).toBe(0o755)
    for (const applet of ['sh', 'echo', 'cat', 'ls', 'true', 'sleep', 'id', 'pwd', 'env']) {
      expect(byName.get(`bin/${applet}`)!.header).toMatchObject({ type: 'symlink', linkname: 'busybox' })
    }
    expect(byName.get('tmp/')!.header.mode).toBe(0o1777)
    expect(byName.get('etc/passwd')!.data.toString()).toContain('app:x:1000:1000:')
    expect(byName.get('etc/group')!.data.toString()).toContain('app:x:1000:')
    for (const e of entries) {
      expect(e.header.mtime!.getTime()).toBe(FIXED_DATE.getTime())
      expect([e.header.uid, e.header.gid]).toEqual([0, 0])
    }
    const names = entries.map((e) => e.header.name)
    expect(names).toEqual([...names].sort())
  })

  it('builds multi with Docker media types and the base layer shared with single', async () => {
    const m = fx.multi.manifests[0]!
    expect(fx.multi.root.mediaType).toBe(MT.dockerManifest)
    expect(m.config.mediaType).toBe(MT.dockerConfig)
    expect(m.layers.map((l) => l.mediaType)).toEqual([MT.dockerLayerGzip, MT.dockerLayerGzip, MT.dockerLayerGzip])
    expect(m.layers[0]!.digest).toBe(fx.single.manifests[0]!.layers[0]!.digest)
    const manifest = await json(fx.multi.layout, fx.multi.root)
    expect(manifest.mediaType).toBe(MT.dockerManifest)
  })

  it('puts whiteouts, an opaque marker, hard links, xattrs and a >4 MiB file in multi', async () => {
    const [, l2, l3] = fx.multi.manifests[0]!.layers
    const features = await readTar(gunzipSync(await blob(fx.multi.layout, l2!)))
    const deletions = await readTar(gunzipSync(await blob(fx.multi.layout, l3!)))
    const f = new Map(features.map((e) => [e.header.name, e]))
    const d = new Map(deletions.map((e) => [e.header.name, e]))

    expect(f.get(layers.HARDLINK_PATH)!.header).toMatchObject({ type: 'link', linkname: layers.HARDLINK_TARGET })
    const xattr = f.get(layers.XATTR_PATH)!.header
    expect(xattr.pax).toMatchObject({ 'SCHILY.xattr.user.ipcr': layers.XATTR_VALUE })
    const big = f.get(layers.BIG_FILE_PATH)!
    expect(big.header.size).toBe(5 * 1024 * 1024 + 123)
    expect(big.data.length).toBeGreaterThan(4 * 1024 * 1024)
    expect(big.data.equals(prngBytes(layers.BIG_FILE_SEED, layers.BIG_FILE_SIZE))).toBe(true)
    expect(f.get('data/empty')!.header.size).toBe(0)
    expect(f.get('data/symlink-rel')!.header).toMatchObject({ type: 'symlink', linkname: 'hard-target.txt' })
    expect(f.get('data/tree/a/b/c/deep.txt')!.data.toString()).toBe('deep\n')
    expect(f.get(layers.UNICODE_PATH)).toBeDefined()
    expect(f.get(layers.LONG_NAME_PATH)).toBeDefined()
    expect(f.get('home/app/owned.txt')!.header).toMatchObject({ uid: 1000, gid: 1000 })
    expect(f.get('data/to-delete.txt')).toBeDefined()

    expect(d.get('data/.wh.to-delete.txt')!.header.type).toBe('file')
    expect(d.get('data/.wh.to-delete-dir')).toBeDefined()
    expect(d.get('data/opaque/.wh..wh..opq')).toBeDefined()
    expect(d.get('data/tree/a/x.txt')!.data.toString()).toBe('x from layer 3\n')
  })

  it('builds platforms as an OCI index with amd64 and arm64 entries', async () => {
    expect(fx.platforms.root.mediaType).toBe(MT.ociIndex)
    const index = await json(fx.platforms.layout, fx.platforms.root)
    expect(index.manifests.map((m: Descriptor) => m.platform)).toEqual([
      { architecture: 'amd64', os: 'linux' },
      { architecture: 'arm64', os: 'linux', variant: 'v8' },
    ])
    expect(index.manifests).toEqual(fx.platforms.manifests.map((m) => m.manifest))
    const armConfig = await json(fx.platforms.layout, fx.platforms.manifests[1]!.config)
    expect([armConfig.architecture, armConfig.os, armConfig.variant]).toEqual(['arm64', 'linux', 'v8'])
  })

  it('packs each layout into a tar with index.json, oci-layout and every blob', async () => {
    for (const img of [fx.single, fx.multi, fx.platforms]) {
      const entries = await readTar(await readFile(img.tar))
      const names = entries.filter((e) => e.header.type === 'file').map((e) => e.header.name)
      const blobs = (await readdir(join(img.layout, 'blobs', 'sha256'))).map((n) => `blobs/sha256/${n}`)
      expect(names.sort()).toEqual(['index.json', 'oci-layout', ...blobs].sort())
      for (const e of entries) {
        if (e.header.type === 'file') expect(e.data.equals(await readFile(join(img.layout, e.header.name)))).toBe(true)
      }
    }
  })

  it('writes a docker-save archive whose manifest.json points at files it contains', async () => {
    const entries = await readTar(await readFile(fx.dockerArchive.path))
    const files = new Map(entries.filter((e) => e.header.type === 'file').map((e) => [e.header.name, e.data]))
    const manifest = JSON.parse(files.get('manifest.json')!.toString())
    expect(manifest).toHaveLength(1)
    expect(manifest[0].RepoTags).toEqual(['ipcr.test/docker:1'])
    const configBytes = files.get(manifest[0].Config)!
    expect(configBytes).toBeDefined()
    expect(sha256(configBytes)).toBe(fx.dockerArchive.configDigest)
    const config = JSON.parse(configBytes.toString())
    expect(manifest[0].Layers).toHaveLength(3)
    manifest[0].Layers.forEach((path: string, i: number) => {
      const layer = files.get(path)
      expect(layer, path).toBeDefined()
      expect(sha256(layer!)).toBe(config.rootfs.diff_ids[i])
      const dir = path.replace(/\/layer\.tar$/, '')
      expect(files.get(`${dir}/VERSION`)!.toString()).toBe('1.0')
      expect(JSON.parse(files.get(`${dir}/json`)!.toString()).id).toBe(dir)
    })
    const top = manifest[0].Layers[2].replace(/\/layer\.tar$/, '')
    expect(JSON.parse(files.get('repositories')!.toString())).toEqual({ 'ipcr.test/docker': { '1': top } })
    // The same image as multi: same config bytes.
    expect(configBytes.equals(await blob(fx.multi.layout, fx.multi.manifests[0]!.config))).toBe(true)
  })
})

describe('validateLayout', () => {
  it('finds nothing wrong with the fixtures', async () => {
    for (const img of [fx.single, fx.multi, fx.platforms]) expect(await validateLayout(img.layout)).toEqual([])
  })

  async function copyOf(layout: string): Promise<string> {
    const dir = await mkdtemp(join(work, 'broken-'))
    await cp(layout, dir, { recursive: true })
    return dir
  }

  it('catches a flipped byte in a layer', async () => {
    const dir = await copyOf(fx.multi.layout)
    const layer = fx.multi.manifests[0]!.layers[1]!
    const path = join(dir, 'blobs', 'sha256', layer.digest.slice(7))
    const bytes = await readFile(path)
    bytes[1000] = bytes[1000]! ^ 0x01
    await writeFile(path, bytes)
    const problems = await validateLayout(dir)
    expect(problems.some((p) => p.startsWith(`blobs/sha256/${layer.digest.slice(7)}: content hashes to`))).toBe(true)
    expect(problems.some((p) => p.includes('layers[1]') && p.includes('hashes to'))).toBe(true)
  })

  it('catches a flipped byte in a nested manifest of an index', async () => {
    const dir = await copyOf(fx.platforms.layout)
    const arm = fx.platforms.manifests[1]!.manifest
    const path = join(dir, 'blobs', 'sha256', arm.digest.slice(7))
    await writeFile(path, (await readFile(path, 'utf8')).replace('"schemaVersion":2', '"schemaVersion":3'))
    const problems = await validateLayout(dir)
    expect(problems.some((p) => p.includes('manifests[0]') && p.includes('manifests[1]') && p.includes('hashes to'))).toBe(true)
  })

  it('catches missing blobs, size mismatches, bad diff_ids and a bad oci-layout file', async () => {
    const dir = await copyOf(fx.single.layout)
    const m = fx.single.manifests[0]!
    await rm(join(dir, 'blobs', 'sha256', m.layers[0]!.digest.slice(7)))
    await writeFile(join(dir, 'oci-layout'), '{"imageLayoutVersion":"2.0.0"}')
    const index = JSON.parse(await readFile(join(dir, 'index.json'), 'utf8'))
    index.manifests[0].size += 1
    await writeFile(join(dir, 'index.json'), JSON.stringify(index))
    const problems = await validateLayout(dir)
    expect(problems).toContainEqual(expect.stringMatching(/^oci-layout: imageLayoutVersion must be "1.0.0"/))
    expect(problems).toContainEqual(expect.stringMatching(/^index.json manifests\[0\]: size \d+ but blob sha256:\w+ has \d+ bytes$/))
    // The manifest's own size is wrong, so its children are not walked; fix that and look again.
    index.manifests[0].size -= 1
    await writeFile(join(dir, 'index.json'), JSON.stringify(index))
    expect(await validateLayout(dir)).toContainEqual(expect.stringMatching(/layers\[0\]: missing blob sha256:/))

    const dir2 = await copyOf(fx.single.layout)
    const config = await json(dir2, m.config)
    config.rootfs.diff_ids[0] = `sha256:${'0'.repeat(64)}`
    const configBytes = Buffer.from(JSON.stringify(config))
    const configDigest = sha256(configBytes)
    await writeFile(join(dir2, 'blobs', 'sha256', configDigest.slice(7)), configBytes)
    const manifest = await json(dir2, fx.single.root)
    manifest.config = { ...manifest.config, digest: configDigest, size: configBytes.length }
    const manifestBytes = Buffer.from(JSON.stringify(manifest))
    const manifestDigest = sha256(manifestBytes)
    await writeFile(join(dir2, 'blobs', 'sha256', manifestDigest.slice(7)), manifestBytes)
    const index2 = JSON.parse(await readFile(join(dir2, 'index.json'), 'utf8'))
    index2.manifests[0] = { ...index2.manifests[0], digest: manifestDigest, size: manifestBytes.length }
    await writeFile(join(dir2, 'index.json'), JSON.stringify(index2))
    expect(await validateLayout(dir2)).toEqual([
      expect.stringMatching(/layers\[0\]: uncompressed digest sha256:\w+ but diff_ids\[0\] is sha256:0+$/),
    ])
  })

  it('reports stray files and a missing index.json', async () => {
    const dir = await copyOf(fx.single.layout)
    await writeFile(join(dir, 'blobs', 'sha256', 'leftover.tmp-1'), 'x')
    await rm(join(dir, 'index.json'))
    expect(await validateLayout(dir)).toEqual(['blobs/sha256/leftover.tmp-1: stray file: not named by a digest', 'index.json: missing'])
  })
})

describe('writeRandomImage', () => {
  it('writes the same valid image for the same seed, with the seeded bytes inside', async () => {
    const size = 3 * 1024 * 1024 + 7
    const a = await writeRandomImage(join(work, 'rand-a'), { layerSize: size, seed: 's1' })
    const b = await writeRandomImage(join(work, 'rand-b'), { layerSize: size, seed: 's1' })
    const c = await writeRandomImage(join(work, 'rand-c'), { layerSize: size, seed: 's2', name: 'ipcr.test/other:2' })
    expect(b.manifest).toEqual(a.manifest)
    expect(c.layer.digest).not.toBe(a.layer.digest)
    expect(a.name).toBe('ipcr.test/random:s1')
    expect(c.indexEntry.annotations!['io.containerd.image.name']).toBe('ipcr.test/other:2')
    expect(a.layer.mediaType).toBe(MT.ociLayer)
    expect(a.diffId).toBe(a.layer.digest)
    expect(await validateLayout(a.dir)).toEqual([])
    const entries = await readTar(await blob(a.dir, a.layer))
    expect(entries).toHaveLength(1)
    expect(entries[0]!.header.name).toBe('random.bin')
    expect(entries[0]!.data.equals(prngBytes('s1', size))).toBe(true)
  })

  it('can write a gzip layer whose diff_id is the uncompressed tar', async () => {
    const r = await writeRandomImage(join(work, 'rand-gz'), { layerSize: 100_000, seed: 'gz', gzip: true })
    expect(r.layer.mediaType).toBe(MT.ociLayerGzip)
    const tarBytes = gunzipSync(await blob(r.dir, r.layer))
    expect(sha256(tarBytes)).toBe(r.diffId)
    expect(await validateLayout(r.dir)).toEqual([])
  })
})

describe('kit building blocks', () => {
  it('streams the same bytes prngBytes returns', async () => {
    const size = 2 * 1024 * 1024 + 5
    const chunks: Buffer[] = []
    for await (const c of prngStream('x', size)) chunks.push(c as Buffer)
    expect(Buffer.concat(chunks).equals(prngBytes('x', size))).toBe(true)
    expect(prngBytes('x', 16).equals(prngBytes('y', 16))).toBe(false)
  })

  it('sorts entries, adds missing parents and rejects a hard link before its target', async () => {
    const entries = await readTar(
      await tarBuffer([
        { path: 'z/file', type: 'file', content: 'z' },
        { path: 'a/b/c', type: 'file', content: 'c' },
      ]),
    )
    expect(entries.map((e) => e.header.name)).toEqual(['a/', 'a/b/', 'a/b/c', 'z/', 'z/file'])
    await expect(
      tarBuffer([
        { path: 'b', type: 'file', content: 'b' },
        { path: 'a', type: 'hardlink', target: 'b' },
      ]),
    ).rejects.toThrow(/must follow its target/)
  })

  it('fails with the error of a failing destination instead of hanging', async () => {
    let written = 0
    const dest = new Writable({
      highWaterMark: 1024,
      write(chunk: Buffer, _enc, cb) {
        written += chunk.length
        setImmediate(() => cb(written > 3_000_000 ? new Error('disk full') : null))
      },
    })
    dest.on('error', () => undefined)
    const size = 20_000_000
    await expect(
      writeTar([{ path: 'big', type: 'file', source: { size, open: () => prngStream('f', size) } }], dest),
    ).rejects.toThrow('disk full')
  })
})
