// docker-archive:FILE[:REF] as a sink: what Docker 25's docker save writes (an OCI layout plus
// manifest.json over the same blobs), read back to the same digests, named as docker and ctr
// expect, and nothing half-written left behind when a copy fails.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { cp, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { buildFixtures, type Fixtures } from '../../src/testkit/index.js'
import { IntegrityError } from '../../src/errors.js'
import type { Descriptor } from '../../src/oci/descriptor.js'
import { sha256Digest } from '../../src/oci/digest.js'
import { parseLocation } from '../../src/oci/location.js'
import type { PlatformSelection } from '../../src/oci/platform.js'
import { copyImage } from '../../src/pull/copy.js'
import { archiveName } from '../../src/stores/archive-name.js'
import { DockerArchive } from '../../src/stores/docker-archive.js'
import { DockerArchiveWriter } from '../../src/stores/docker-archive-writer.js'
import { OciLayout } from '../../src/stores/oci-layout.js'
import { openImageSink, openImageSource } from '../../src/stores/open.js'
import { indexTar } from '../../src/stores/tar-index.js'

let fx: Fixtures
let work: string
const all: PlatformSelection = { all: true }
const ctx = { address: '/nonexistent/containerd.sock', namespace: 'unused' }

beforeAll(async () => {
  fx = await buildFixtures(join(tmpdir(), 'ipcr-fixtures'))
  work = await mkdtemp(join(tmpdir(), 'ipcr-archive-writer-'))
})
afterAll(async () => { await rm(work, { recursive: true, force: true }) })

/** `image copy FROM TO` as the command does it: open both, copy, close both. */
async function copy(from: string, to: string, platforms: PlatformSelection = all): Promise<void> {
  const source = await openImageSource(parseLocation(from), ctx)
  const sink = await openImageSink(parseLocation(to), ctx)
  try {
    await copyImage(source, sink, { platforms })
  } finally {
    await sink.close()
    await source.close()
  }
}

/** A file inside the archive, by its path there. */
async function entry(tar: string, name: string): Promise<Buffer> {
  const e = (await indexTar(tar)).get(name)
  if (!e) throw new Error(`${name} is not in ${tar}`)
  return (await readFile(tar)).subarray(e.offset, e.offset + e.size)
}

interface SaveEntry { Config: string; RepoTags: string[] | null; Layers: string[] }
const manifestJson = async (tar: string): Promise<SaveEntry[]> => JSON.parse((await entry(tar, 'manifest.json')).toString()) as SaveEntry[]
const indexJson = async (tar: string): Promise<{ manifests: Array<{ digest: string; annotations?: Record<string, string> }> }> =>
  JSON.parse((await entry(tar, 'index.json')).toString()) as { manifests: Array<{ digest: string; annotations?: Record<string, string> }> }

describe('docker-archive as a sink', () => {
  it('holds the source blobs byte for byte under blobs/sha256, and reads back to the same digests', async () => {
    const tar = join(work, 'multi.tar')
    await copy(`oci-layout:${fx.multi.layout}`, `docker-archive:${tar}`)
    const m = fx.multi.manifests[0]!
    for (const d of [m.manifest, m.config, ...m.layers]) {
      const bytes = await entry(tar, `blobs/sha256/${d.digest.slice(7)}`)
      expect(sha256Digest(bytes)).toBe(d.digest)
      expect(bytes.equals(await readFile(join(fx.multi.layout, 'blobs', 'sha256', d.digest.slice(7))))).toBe(true)
    }
    expect((await entry(tar, 'oci-layout')).toString()).toBe('{"imageLayoutVersion":"1.0.0"}')
    const back = new DockerArchive(tar)
    expect((await back.root()).digest).toBe(fx.multi.root.digest)
  })

  it('writes manifest.json for docker load: the config and layers as blob paths, tagged with the source image name', async () => {
    const tar = join(work, 'multi.tar')
    const m = fx.multi.manifests[0]!
    expect(await manifestJson(tar)).toEqual([{
      Config: `blobs/sha256/${m.config.digest.slice(7)}`,
      RepoTags: ['ipcr.test/multi:1'],
      Layers: m.layers.map((l) => `blobs/sha256/${l.digest.slice(7)}`),
    }])
    // ...and index.json names it for ctr import, as the source layout named it.
    const index = await indexJson(tar)
    expect(index.manifests).toHaveLength(1)
    expect(index.manifests[0]?.annotations).toEqual({ 'io.containerd.image.name': 'ipcr.test/multi:1', 'org.opencontainers.image.ref.name': '1' })
  })

  it('names the image by REF, spelled as docker save spells it, and reads back by that name', async () => {
    const tar = join(work, 'named.tar')
    await copy(`oci-layout:${fx.single.layout}`, `docker-archive:${tar}:busybox`)
    expect((await manifestJson(tar))[0]?.RepoTags).toEqual(['busybox:latest'])
    expect((await indexJson(tar)).manifests[0]?.annotations).toEqual({ 'io.containerd.image.name': 'docker.io/library/busybox:latest', 'org.opencontainers.image.ref.name': 'latest' })
    expect((await new DockerArchive(tar, 'busybox:latest').root()).digest).toBe(fx.single.root.digest)
    const out = join(work, 'named-back')
    await copy(`docker-archive:${tar}:busybox:latest`, `oci-layout:${out}`)
    expect((await new OciLayout(out).root()).digest).toBe(fx.single.root.digest)
  })

  it('refuses a malformed REF before writing anything', async () => {
    expect(() => new DockerArchiveWriter(join(work, 'bad.tar'), 'Not A Name')).toThrow(/is not an image reference/)
    await expect(readdir(work)).resolves.not.toContain('bad.tar')
  })

  it('keeps a whole index in index.json and gives docker load the host platform (amd64 here)', async () => {
    const tar = join(work, 'platforms.tar')
    await copy(`oci-layout:${fx.platforms.layout}`, `docker-archive:${tar}`)
    expect((await indexJson(tar)).manifests.map((d) => d.digest)).toEqual([fx.platforms.root.digest])
    const [amd64, arm64] = fx.platforms.manifests
    expect((await manifestJson(tar)).map((e) => e.Config)).toEqual([`blobs/sha256/${amd64!.config.digest.slice(7)}`])
    for (const d of [arm64!.manifest, arm64!.config, ...arm64!.layers]) expect(sha256Digest(await entry(tar, `blobs/sha256/${d.digest.slice(7)}`))).toBe(d.digest)
  })

  it('with one platform chosen, manifest.json names that platform', async () => {
    const tar = join(work, 'arm64.tar')
    await copy(`oci-layout:${fx.platforms.layout}`, `docker-archive:${tar}`, { all: false, only: [{ os: 'linux', architecture: 'arm64', variant: 'v8' }] })
    const arm64 = fx.platforms.manifests[1]!
    expect(await manifestJson(tar)).toEqual([{ Config: `blobs/sha256/${arm64.config.digest.slice(7)}`, RepoTags: ['ipcr.test/platforms:1'], Layers: arm64.layers.map((l) => `blobs/sha256/${l.digest.slice(7)}`) }])
  })

  it('round-trips oci-layout -> docker-archive -> oci-layout to the same root', async () => {
    const tar = join(work, 'round.tar')
    const out = join(work, 'round-layout')
    await copy(`oci-layout:${fx.multi.layout}`, `docker-archive:${tar}`)
    await copy(`docker-archive:${tar}`, `oci-layout:${out}`)
    expect((await new OciLayout(out).root()).digest).toBe(fx.multi.root.digest)
  })

  it('leaves FILE as it was and no temp file when a blob fails its check half-way', async () => {
    const dir = await mkdtemp(join(work, 'fail-'))
    const broken = join(dir, 'broken-layout')
    await cp(fx.multi.layout, broken, { recursive: true })
    const layer = fx.multi.manifests[0]!.layers[1]!
    const blob = join(broken, 'blobs', 'sha256', layer.digest.slice(7))
    const bytes = await readFile(blob)
    const mid = bytes.length >> 1
    bytes[mid] = (bytes[mid] ?? 0) ^ 0xff // same size, wrong digest: found only once the whole blob has streamed
    await writeFile(blob, bytes)
    const tar = join(dir, 'out.tar')
    await writeFile(tar, 'the archive from before')
    const err = await copy(`oci-layout:${broken}`, `docker-archive:${tar}`).then(() => undefined, (e: unknown) => e)
    expect(err).toBeInstanceOf(IntegrityError)
    expect(await readFile(tar, 'utf8')).toBe('the archive from before')
    expect((await readdir(dir)).sort()).toEqual(['broken-layout', 'out.tar'])
  })

  it('close() without tag() removes what was written', async () => {
    const dir = await mkdtemp(join(work, 'untagged-'))
    const sink = new DockerArchiveWriter(join(dir, 'out.tar'))
    const config = fx.single.manifests[0]!.config as Descriptor
    await sink.putBlob(config, new OciLayout(fx.single.layout).blob(config))
    expect(await readdir(dir)).toHaveLength(1) // the temp file, beside FILE
    await sink.close()
    expect(await readdir(dir)).toEqual([])
  })
})

describe('archiveName', () => {
  it('spells a name as docker save does: normalised for index.json, familiar for RepoTags', () => {
    expect(archiveName('busybox')).toEqual({ imageName: 'docker.io/library/busybox:latest', refName: 'latest', repoTag: 'busybox:latest' })
    expect(archiveName('docker.io/org/app:2')).toEqual({ imageName: 'docker.io/org/app:2', refName: '2', repoTag: 'org/app:2' })
    expect(archiveName('ghcr.io/org/app:1.0')).toEqual({ imageName: 'ghcr.io/org/app:1.0', refName: '1.0', repoTag: 'ghcr.io/org/app:1.0' })
    const digest = `sha256:${'a'.repeat(64)}`
    // docker load takes only name:tag in RepoTags, so a digest-only name is in index.json alone.
    expect(archiveName(`localhost:5000/app@${digest}`)).toEqual({ imageName: `localhost:5000/app@${digest}` })
  })
})
