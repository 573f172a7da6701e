import { createHash } from 'node:crypto'
import { open } from 'node:fs/promises'
import { posix } from 'node:path'
import { IntegrityError, NotFoundError, UsageError } from '../errors.js'
import type { Descriptor } from '../oci/descriptor.js'
import { type Digest, sha256Digest } from '../oci/digest.js'
import { marshalManifest, parseIndex } from '../oci/manifest.js'
import { MediaType } from '../oci/media-types.js'
import type { ImageSource } from '../oci/store.js'
import { readRange } from '../util/fs-util.js'
import { asImageTarget } from './oci-layout.js'
import { indexTar, type TarEntry } from './tar-index.js'

interface SaveManifestEntry { Config: string; RepoTags?: string[] | null; Layers: string[] }

/**
 * A `docker save` tarball, read in place. Newer Docker writes an OCI layout inside the tar; older
 * Docker writes manifest.json with a config and layer tars, for which we synthesise the Docker
 * schema 2 manifest containerd's importer would (layers keep their bytes; media type by magic).
 */
export class DockerArchive implements ImageSource {
  readonly location: string
  private entries?: Map<string, TarEntry>
  /** Blobs by digest: where they are in the tar, or synthesised bytes. */
  private readonly blobs = new Map<Digest, TarEntry | Buffer>()

  constructor(readonly file: string, readonly ref?: string) {
    this.location = `docker-archive:${file}${ref ? `:${ref}` : ''}`
  }

  private async index(): Promise<Map<string, TarEntry>> {
    if (!this.entries) {
      this.entries = await indexTar(this.file).catch((err: unknown) => {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new NotFoundError(`docker archive ${this.file} does not exist`)
        throw err
      })
    }
    return this.entries
  }

  private async readEntry(e: TarEntry): Promise<Buffer> {
    const fh = await open(this.file, 'r')
    try {
      const buf = Buffer.alloc(e.size)
      await fh.read(buf, 0, e.size, e.offset)
      return buf
    } finally {
      await fh.close()
    }
  }

  /** Follow symlinks inside the archive (older docker links duplicate layers). */
  private resolve(name: string, entries: Map<string, TarEntry>): TarEntry {
    let e = entries.get(posix.normalize(name))
    for (let hops = 0; e?.type === 'symlink' && hops < 8; hops++) e = entries.get(posix.normalize(posix.join(posix.dirname(e.name), e.linkname)))
    if (!e || e.type !== 'file') throw new IntegrityError(`${this.file}: ${name} named by manifest.json is missing from the archive`)
    return e
  }

  private async hashEntry(e: TarEntry): Promise<{ digest: Digest; magic: Buffer }> {
    const h = createHash('sha256')
    let magic = Buffer.alloc(0)
    for await (const chunk of readRange(this.file, e.offset, e.offset + e.size)) {
      if (magic.length < 2) magic = Buffer.concat([magic, chunk]).subarray(0, 2)
      h.update(chunk)
    }
    return { digest: `sha256:${h.digest('hex')}`, magic }
  }

  async root(): Promise<Descriptor> {
    const entries = await this.index()
    if (entries.has('oci-layout') && entries.has('index.json')) return this.ociRoot(entries)
    const manifestEntry = entries.get('manifest.json')
    if (!manifestEntry) throw new IntegrityError(`${this.file} is not a docker save archive: it has neither manifest.json nor index.json`)
    let list: SaveManifestEntry[]
    try {
      list = JSON.parse((await this.readEntry(manifestEntry)).toString('utf8')) as SaveManifestEntry[]
    } catch {
      throw new IntegrityError(`${this.file}: manifest.json is not valid JSON`)
    }
    if (!Array.isArray(list) || list.length === 0) throw new IntegrityError(`${this.file}: manifest.json lists no images`)
    const ref = this.ref
    const picked = ref === undefined ? list : list.filter((m) => (m.RepoTags ?? []).some((t) => t === ref || t.endsWith(`/${ref}`)))
    if (picked.length === 0) throw new NotFoundError(`no image tagged "${ref}" in ${this.file} (it has: ${list.flatMap((m) => m.RepoTags ?? []).join(', ') || 'untagged images'})`)
    if (picked.length > 1) throw new UsageError(`${this.file} holds ${picked.length} images; name one as docker-archive:${this.file}:REF (tags: ${picked.flatMap((m) => m.RepoTags ?? []).join(', ')})`)
    const m = picked[0] as SaveManifestEntry
    const configEntry = this.resolve(m.Config, entries)
    const config = await this.readEntry(configEntry)
    const configDesc: Descriptor = { mediaType: MediaType.DockerConfig, digest: sha256Digest(config), size: config.length }
    this.blobs.set(configDesc.digest, config)
    const layers: Descriptor[] = []
    for (const name of m.Layers) {
      const e = this.resolve(name, entries)
      const { digest, magic } = await this.hashEntry(e)
      const gzip = magic[0] === 0x1f && magic[1] === 0x8b
      layers.push({ mediaType: gzip ? MediaType.DockerLayerGzip : MediaType.DockerLayer, digest, size: e.size })
      this.blobs.set(digest, e)
    }
    const manifest = Buffer.from(marshalManifest({ schemaVersion: 2, mediaType: MediaType.DockerManifest, config: configDesc, layers }))
    const desc: Descriptor = { mediaType: MediaType.DockerManifest, digest: sha256Digest(manifest), size: manifest.length }
    this.blobs.set(desc.digest, manifest)
    return desc
  }

  private async ociRoot(entries: Map<string, TarEntry>): Promise<Descriptor> {
    const index = parseIndex(await this.readEntry(entries.get('index.json') as TarEntry), `${this.file}: index.json`)
    const all = index.manifests ?? []
    const ref = this.ref
    // A tag alone (`1`) or the name as written (`busybox:1`, which index.json spells docker.io/library/busybox:1).
    const picked = ref === undefined ? all : all.filter((d) => Object.values(d.annotations ?? {}).some((t) => t === ref || t.endsWith(`:${ref}`) || t.endsWith(`/${ref}`)))
    if (picked.length !== 1) throw new UsageError(`${this.file} holds ${picked.length} matching images; name one as docker-archive:${this.file}:REF`)
    for (const [name, e] of entries) {
      const m = /^blobs\/sha256\/([0-9a-f]{64})$/.exec(name)
      if (m) this.blobs.set(`sha256:${m[1]}`, e)
    }
    return asImageTarget(picked[0] as Descriptor)
  }

  async *blob(d: Descriptor): AsyncGenerator<Uint8Array> {
    if (this.blobs.size === 0) await this.root()
    const where = this.blobs.get(d.digest)
    if (where === undefined) throw new NotFoundError(`blob ${d.digest} is not in ${this.file}`)
    if (Buffer.isBuffer(where)) { yield where; return }
    yield* readRange(this.file, where.offset, where.offset + where.size)
  }

  async close(): Promise<void> { /* nothing held open */ }
}
