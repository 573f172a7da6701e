import { randomBytes } from 'node:crypto'
import { mkdir, open, rename, rm } from 'node:fs/promises'
import { basename, dirname, join } from 'node:path'
import { IntegrityError, IpcrError, UsageError } from '../errors.js'
import type { Descriptor } from '../oci/descriptor.js'
import { readAll, type Digest } from '../oci/digest.js'
import { marshalIndex } from '../oci/manifest.js'
import { isIndex, isManifest, MediaType } from '../oci/media-types.js'
import type { ImageSink } from '../oci/store.js'
import { archiveName, type ArchiveName } from './archive-name.js'
import { blobPath, saveManifestEntry } from './docker-save-manifest.js'
import { once } from '../util/once.js'
import { TarFileWriter } from './tar-writer.js'

const imageNameKey = 'io.containerd.image.name'
const refNameKey = 'org.opencontainers.image.ref.name'

/**
 * Writes what Docker 25+ `docker save` writes: an OCI layout (oci-layout, index.json, blobs/sha256/…
 * byte for byte as the source has them, so every digest is kept) plus manifest.json, whose entry
 * points at the same blobs. `ctr images import` reads the OCI layout (it prefers it when both are
 * there); `docker load` reads manifest.json. Blobs stream into a temp file beside FILE, renamed
 * over FILE by tag(): a failed or interrupted copy leaves FILE as it was, and close() removes the rest.
 */
export class DockerArchiveWriter implements ImageSink {
  readonly location: string
  private readonly name: ArchiveName | undefined
  private readonly temp: string
  private tar: Promise<TarFileWriter> | undefined
  /** Digests already written or being written: a blob goes into the tar once. */
  private readonly written = new Set<Digest>()
  /** Manifests and indexes (small, checked against limits by the walk), for manifest.json. */
  private readonly held = new Map<Digest, Buffer>()
  private finished = false

  /** `ref` names the image in the archive; without it, the name the source's root carries, if any. */
  constructor(readonly file: string, readonly ref?: string) {
    this.location = `docker-archive:${file}${ref ? `:${ref}` : ''}`
    this.name = ref === undefined ? undefined : archiveName(ref)
    this.temp = join(dirname(file), `.${basename(file)}.${randomBytes(6).toString('hex')}.tmp`)
  }

  async putBlob(desc: Descriptor, bytes: AsyncIterable<Uint8Array>): Promise<void> {
    if (this.finished) throw new UsageError(`${this.location} is already written; open it again to write another image`)
    if (this.written.has(desc.digest)) {
      await bytes[Symbol.asyncIterator]().return?.() // let the producer stop: this blob is in the tar already
      return
    }
    this.written.add(desc.digest)
    const tar = await this.open()
    if (isManifest(desc.mediaType) || isIndex(desc.mediaType)) {
      const json = await readAll(bytes)
      this.held.set(desc.digest, json)
      await tar.addFile(blobPath(desc.digest), desc.size, once(json), 0o444)
      return
    }
    await tar.addFile(blobPath(desc.digest), desc.size, bytes, 0o444)
  }

  /** Write index.json and manifest.json naming `root`, end the tar and move it to FILE. */
  async tag(root: Descriptor): Promise<void> {
    if (!this.written.has(root.digest)) throw new IntegrityError(`${root.digest} was never written to ${this.location}, so it cannot be its image`)
    const name = this.name ?? nameFrom(root)
    const tar = await this.open()
    const entry = saveManifestEntry(root, this.held, name?.repoTag)
    const annotations = { ...root.annotations }
    delete annotations[imageNameKey]
    delete annotations[refNameKey]
    if (name) annotations[imageNameKey] = name.imageName
    if (name?.refName !== undefined) annotations[refNameKey] = name.refName
    const { annotations: _old, ...target } = root
    const indexEntry: Descriptor = { ...target, ...(Object.keys(annotations).length > 0 ? { annotations } : {}) }
    const index = Buffer.from(marshalIndex({ schemaVersion: 2, mediaType: MediaType.OciIndex, manifests: [indexEntry] }))
    const manifestJson = Buffer.from(JSON.stringify([entry]))
    await tar.addFile('index.json', index.length, once(index))
    await tar.addFile('manifest.json', manifestJson.length, once(manifestJson))
    await tar.finish()
    await rename(this.temp, this.file).catch((err: NodeJS.ErrnoException) => {
      throw new IpcrError(`cannot move the finished archive to ${this.file}: ${err.message}`, { cause: err })
    })
    this.finished = true
  }

  /** Without tag() nothing was finished: drop the temp file, so no half-written archive survives. */
  async close(): Promise<void> {
    if (this.finished || this.tar === undefined) return
    const tar = this.tar
    this.tar = undefined
    await (await tar.catch(() => undefined))?.abort()
    await rm(this.temp, { force: true })
  }

  /** The temp file is made on first write, so opening a sink that is never written leaves nothing. */
  private open(): Promise<TarFileWriter> {
    this.tar ??= (async () => {
      await mkdir(dirname(this.file), { recursive: true })
      const tar = new TarFileWriter(await open(this.temp, 'wx'))
      const layout = Buffer.from('{"imageLayoutVersion":"1.0.0"}')
      await tar.addFile('oci-layout', layout.length, once(layout))
      await tar.addDirectory('blobs')
      await tar.addDirectory('blobs/sha256')
      return tar
    })()
    return this.tar
  }
}

/** The name the source gave its root (an OCI layout's or an imported image's), if it is a valid reference. */
function nameFrom(root: Descriptor): ArchiveName | undefined {
  const name = root.annotations?.[imageNameKey]
  if (name === undefined) return undefined
  try {
    return archiveName(name)
  } catch {
    return undefined // not a reference docker could load under; the archive stays unnamed
  }
}
