/**
 * buildFixtures(): the images every test works on, built from the local busybox binary into
 * `outDir`. The build happens in a private temp directory and each finished output is renamed
 * into place, the stamp last; a stamped, complete build of the same inputs is reused as is.
 * Two processes building at once write identical bytes, so whichever rename wins is right.
 */
import { randomBytes } from 'node:crypto'
import { mkdir, readFile, rename, rm, stat } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { KIT_VERSION, MT } from './constants.js'
import { busyboxPath, busyboxRootfs, readBusybox } from './busybox.js'
import { writeDockerArchive, type DockerArchiveInfo } from './docker-archive.js'
import { goJson } from './gojson.js'
import { sha256Digest } from './hash.js'
import { writeImage, writeLayer, type WrittenImage } from './image.js'
import { arm64Layer, deletionLayer, featureLayer } from './layers.js'
import { OciLayoutWriter } from './layout.js'
import { tarLayout } from './layout-tar.js'
import { tarBuffer } from './tar.js'
import type { Descriptor } from './types.js'
import { writeFileAtomic } from './atomic.js'

export const FIXTURE_NAMES = {
  single: 'ipcr.test/single:1',
  multi: 'ipcr.test/multi:1',
  platforms: 'ipcr.test/platforms:1',
  docker: 'ipcr.test/docker:1',
} as const

export const STAMP_FILE = '.ipcr-testkit-stamp.json'

/** One image manifest and what it points at. */
export type FixtureManifest = Omit<WrittenImage, 'configBytes'>

export interface FixtureImage {
  name: string
  /** The OCI layout directory. */
  layout: string
  /** The same layout as one tar, for `ctr images import`. */
  tar: string
  /** The image's target: the manifest (single, multi) or the index (platforms); no annotations. */
  root: Descriptor
  /** The root as listed in index.json, with the naming annotations. */
  indexEntry: Descriptor
  /** Every manifest reachable from the root; index entries carry their `platform`. */
  manifests: FixtureManifest[]
}

export interface DockerArchiveFixture extends DockerArchiveInfo {
  name: string
  path: string
  /** Digest of the config JSON (= the image ID docker and ctr report). */
  configDigest: string
  diffIds: string[]
}

export interface Fixtures {
  dir: string
  /** What the build was made from; a different key means a rebuild. */
  key: { kit: string; busybox: string; zlib: string; node: string }
  single: FixtureImage
  multi: FixtureImage
  platforms: FixtureImage
  dockerArchive: DockerArchiveFixture
}

/** Every top-level output, in the order they are moved into place. */
const OUTPUTS = ['single', 'multi', 'platforms', 'single.tar', 'multi.tar', 'platforms.tar', 'docker-archive.tar']

export interface BuildOptions {
  /** Path of a statically linked busybox; default $IPCR_BUSYBOX or /bin/busybox. */
  busybox?: string
  /** Rebuild even if a stamped build of the same inputs exists. */
  force?: boolean
}

export async function buildFixtures(outDir: string, opts: BuildOptions = {}): Promise<Fixtures> {
  const dir = resolve(outDir)
  const busybox = await readBusybox(busyboxPath(opts.busybox))
  const key = { kit: KIT_VERSION, busybox: sha256Digest(busybox), zlib: process.versions.zlib ?? '', node: process.version }
  if (!opts.force) {
    const cached = await loadStamp(dir, key)
    if (cached) return cached
  }

  await mkdir(dir, { recursive: true })
  const tmp = join(dir, `.tmp-build-${process.pid}-${randomBytes(6).toString('hex')}`)
  try {
    const built = await buildInto(tmp, busybox, key)
    // Drop the old stamp first, so no reader trusts it while the outputs are being replaced.
    await rm(join(dir, STAMP_FILE), { force: true })
    for (const name of OUTPUTS) await moveIntoPlace(join(tmp, name), join(dir, name))
    await writeFileAtomic(join(dir, STAMP_FILE), goJson({ key, fixtures: relativize(built, tmp) }))
    return absolutize(relativize(built, tmp), dir)
  } finally {
    await rm(tmp, { recursive: true, force: true })
  }
}

async function moveIntoPlace(from: string, to: string): Promise<void> {
  // Park whatever is there (a stale build, or a concurrent builder's identical output) aside,
  // then rename ours in; a directory rename cannot replace a non-empty directory.
  const parked = `${to}.old-${process.pid}-${randomBytes(4).toString('hex')}`
  await rename(to, parked).catch((err: NodeJS.ErrnoException) => {
    if (err.code !== 'ENOENT') throw err
  })
  try {
    await rename(from, to)
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw err
    // A concurrent builder got there first with the same bytes; keep theirs.
  }
  await rm(parked, { recursive: true, force: true })
}

async function buildInto(tmp: string, busybox: Buffer, key: Fixtures['key']): Promise<Fixtures> {
  const amd64 = { architecture: 'amd64', os: 'linux' }
  const baseTar = await tarBuffer(busyboxRootfs(busybox))

  // single: one OCI gzip layer.
  const singleW = await new OciLayoutWriter(join(tmp, 'single')).init()
  const singleBase = await writeLayer(singleW, baseTar, { mediaType: MT.ociLayerGzip, gzip: true, comment: 'busybox base' })
  const single = await writeImage(singleW, { platform: amd64, layers: [singleBase] })
  const [singleEntry] = await singleW.writeIndex([{ name: FIXTURE_NAMES.single, descriptor: single.manifest }])

  // multi: Docker media types, base + features + deletions.
  const featureTar = await tarBuffer(featureLayer())
  const deletionTar = await tarBuffer(deletionLayer())
  const multiW = await new OciLayoutWriter(join(tmp, 'multi')).init()
  const dl = { mediaType: MT.dockerLayerGzip, gzip: true }
  const multiLayers = [
    await writeLayer(multiW, baseTar, { ...dl, comment: 'busybox base' }),
    await writeLayer(multiW, featureTar, { ...dl, comment: 'links, xattrs, empty and big files' }),
    await writeLayer(multiW, deletionTar, { ...dl, comment: 'whiteouts and an opaque directory' }),
  ]
  const multi = await writeImage(multiW, {
    platform: amd64,
    layers: multiLayers,
    env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'IPCR_FIXTURE=multi'],
    docker: true,
  })
  const [multiEntry] = await multiW.writeIndex([{ name: FIXTURE_NAMES.multi, descriptor: multi.manifest }])

  // platforms: an OCI index over linux/amd64 (runnable) and linux/arm64 (only for selection).
  const platW = await new OciLayoutWriter(join(tmp, 'platforms')).init()
  const platBase = await writeLayer(platW, baseTar, { mediaType: MT.ociLayerGzip, gzip: true, comment: 'busybox base' })
  const platAmd64 = await writeImage(platW, { platform: amd64, layers: [platBase] })
  const arm64 = { architecture: 'arm64', os: 'linux', variant: 'v8' }
  const armLayer = await writeLayer(platW, await tarBuffer(arm64Layer()), {
    mediaType: MT.ociLayerGzip,
    gzip: true,
    comment: 'arm64 text file',
  })
  const platArm64 = await writeImage(platW, { platform: arm64, layers: [armLayer], cmd: ['/bin/sh'] })
  const platManifests = [
    { ...platAmd64, manifest: { ...platAmd64.manifest, platform: amd64 } },
    { ...platArm64, manifest: { ...platArm64.manifest, platform: arm64 } },
  ]
  const platIndex = await platW.writeJsonBlob(
    { schemaVersion: 2, mediaType: MT.ociIndex, manifests: platManifests.map((m) => m.manifest) },
    MT.ociIndex,
  )
  const [platEntry] = await platW.writeIndex([{ name: FIXTURE_NAMES.platforms, descriptor: platIndex }])

  for (const name of ['single', 'multi', 'platforms']) await tarLayout(join(tmp, name), join(tmp, `${name}.tar`))

  const archivePath = join(tmp, 'docker-archive.tar')
  const archive = await writeDockerArchive(archivePath, {
    configBytes: multi.configBytes,
    layerTars: [baseTar, featureTar, deletionTar],
    repoTags: [FIXTURE_NAMES.docker],
  })

  const image = (
    short: 'single' | 'multi' | 'platforms',
    root: Descriptor,
    indexEntry: Descriptor | undefined,
    manifests: WrittenImage[],
  ): FixtureImage => ({
    name: FIXTURE_NAMES[short],
    layout: join(tmp, short),
    tar: join(tmp, `${short}.tar`),
    root,
    indexEntry: indexEntry as Descriptor,
    manifests: manifests.map(({ configBytes: _c, ...m }) => m),
  })
  return {
    dir: tmp,
    key,
    single: image('single', single.manifest, singleEntry, [single]),
    multi: image('multi', multi.manifest, multiEntry, [multi]),
    platforms: image('platforms', platIndex, platEntry, platManifests),
    dockerArchive: {
      ...archive,
      name: FIXTURE_NAMES.docker,
      path: archivePath,
      configDigest: multi.config.digest,
      diffIds: multi.diffIds,
    },
  }
}

// The stamp stores paths relative to the build directory, so a build can be found again
// from wherever the directory is (and the temp directory's name never leaks into it).
const PATH_FIELDS = ['layout', 'tar'] as const

function relativize(f: Fixtures, base: string): Fixtures {
  const rel = (p: string) => p.slice(base.length + 1)
  const img = (i: FixtureImage): FixtureImage => ({ ...i, layout: rel(i.layout), tar: rel(i.tar) })
  return {
    ...f,
    dir: '.',
    single: img(f.single),
    multi: img(f.multi),
    platforms: img(f.platforms),
    dockerArchive: { ...f.dockerArchive, path: rel(f.dockerArchive.path) },
  }
}

function absolutize(f: Fixtures, dir: string): Fixtures {
  const img = (i: FixtureImage): FixtureImage => {
    const out = { ...i }
    for (const k of PATH_FIELDS) out[k] = join(dir, i[k])
    return out
  }
  return {
    ...f,
    dir,
    single: img(f.single),
    multi: img(f.multi),
    platforms: img(f.platforms),
    dockerArchive: { ...f.dockerArchive, path: join(dir, f.dockerArchive.path) },
  }
}

async function loadStamp(dir: string, key: Fixtures['key']): Promise<Fixtures | undefined> {
  let stamp: { key: Fixtures['key']; fixtures: Fixtures }
  try {
    stamp = JSON.parse(await readFile(join(dir, STAMP_FILE), 'utf8')) as typeof stamp
  } catch {
    return undefined
  }
  if (goJson(stamp.key) !== goJson(key)) return undefined
  try {
    await Promise.all(OUTPUTS.map((name) => stat(join(dir, name))))
  } catch {
    return undefined
  }
  return absolutize(stamp.fixtures, dir)
}
