import { readFile, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { IntegrityError, NotFoundError, UsageError } from '../errors.js'
import type { Descriptor } from '../oci/descriptor.js'
import { digestHex } from '../oci/digest.js'
import { parseIndex, marshalIndex, type Index } from '../oci/manifest.js'
import { MediaType } from '../oci/media-types.js'
import type { ImageSink, ImageSource } from '../oci/store.js'
import { readRange, writeFileAtomic } from '../util/fs-util.js'

const refNameKey = 'org.opencontainers.image.ref.name'
const imageNameKey = 'io.containerd.image.name'

/** What containerd keeps of a descriptor in an image record, so pushes from a layout and from containerd agree. */
export function asImageTarget(d: Descriptor): Descriptor {
  return { mediaType: d.mediaType, digest: d.digest, size: d.size, ...(d.annotations ? { annotations: d.annotations } : {}) }
}

function tagsOf(d: Descriptor): string[] {
  return [d.annotations?.[refNameKey], d.annotations?.[imageNameKey]].filter((x): x is string => x !== undefined)
}

/** An OCI image layout directory (image-spec's image-layout.md), read and written. */
export class OciLayout implements ImageSource, ImageSink {
  readonly location: string

  constructor(readonly dir: string, readonly ref?: string) {
    this.location = `oci-layout:${dir}${ref ? `:${ref}` : ''}`
  }

  blobPath(d: Pick<Descriptor, 'digest'>): string {
    return join(this.dir, 'blobs', 'sha256', digestHex(d.digest))
  }

  private async readIndex(): Promise<Index> {
    const marker = await readFile(join(this.dir, 'oci-layout'), 'utf8').catch(() => undefined)
    if (marker === undefined) {
      const exists = await stat(this.dir).then((s) => s.isDirectory(), () => false)
      throw new NotFoundError(exists ? `${this.dir} is not an OCI image layout: it has no oci-layout file` : `OCI layout directory ${this.dir} does not exist`)
    }
    let version: unknown
    try { version = (JSON.parse(marker) as { imageLayoutVersion?: unknown }).imageLayoutVersion } catch { /* reported below */ }
    if (version !== '1.0.0') throw new IntegrityError(`${this.dir}/oci-layout is malformed: expected {"imageLayoutVersion":"1.0.0"}`)
    const bytes = await readFile(join(this.dir, 'index.json')).catch(() => {
      throw new IntegrityError(`${this.dir} is not a complete OCI image layout: index.json is missing`)
    })
    return parseIndex(bytes, `${this.dir}/index.json`)
  }

  async root(): Promise<Descriptor> {
    const index = await this.readIndex()
    const entries = index.manifests ?? []
    if (this.ref !== undefined) {
      const tag = this.ref
      const hit = entries.find((d) => tagsOf(d).some((t) => t === tag || t.endsWith(`:${tag}`)))
      if (!hit) {
        const known = entries.flatMap((d) => tagsOf(d).slice(0, 1))
        throw new NotFoundError(`no image tagged "${tag}" in ${this.dir}${known.length ? ` (it has: ${known.join(', ')})` : ' (it has no tagged images)'}`)
      }
      return asImageTarget(hit)
    }
    if (entries.length === 1) return asImageTarget(entries[0] as Descriptor)
    if (entries.length === 0) throw new NotFoundError(`the OCI layout ${this.dir} holds no images`)
    const known = entries.map((d) => tagsOf(d)[0] ?? d.digest)
    throw new UsageError(`the OCI layout ${this.dir} holds ${entries.length} images; name one as oci-layout:${this.dir}:TAG (tags: ${known.join(', ')})`)
  }

  /** Whether blobs/ holds the blob: image-layout.md lets a layout leave out blobs fetchable elsewhere. */
  async hasBlob(d: Pick<Descriptor, 'digest'>): Promise<boolean> {
    return stat(this.blobPath(d)).then(() => true, () => false)
  }

  async *blob(d: Descriptor): AsyncGenerator<Uint8Array> {
    if (!(await this.hasBlob(d))) throw new NotFoundError(`blob ${d.digest} is missing from the OCI layout ${this.dir}`)
    yield* readRange(this.blobPath(d))
  }

  async putBlob(d: Descriptor, bytes: AsyncIterable<Uint8Array>): Promise<void> {
    const path = this.blobPath(d)
    const have = await stat(path).then((s) => s.size === d.size, () => false)
    if (have) { for await (const _ of bytes) { /* drain the producer */ } return }
    await writeFileAtomic(path, bytes)
  }

  /** Point the tag at `root` in index.json (replacing an entry with the same tag), creating the layout if new. */
  async tag(root: Descriptor): Promise<void> {
    const fresh = await stat(join(this.dir, 'oci-layout')).then(() => false, () => true)
    if (fresh) await writeFileAtomic(join(this.dir, 'oci-layout'), Buffer.from('{"imageLayoutVersion":"1.0.0"}'))
    const index: Index = fresh ? { schemaVersion: 2, mediaType: MediaType.OciIndex, manifests: [] } : await this.readIndex()
    const tag = this.ref
    const entry: Descriptor = { ...root, ...(tag ? { annotations: { ...root.annotations, [refNameKey]: tag } } : {}) }
    const others = (index.manifests ?? []).filter((d) => tag === undefined ? d.digest !== root.digest : !tagsOf(d).includes(tag))
    await writeFileAtomic(join(this.dir, 'index.json'), Buffer.from(marshalIndex({ ...index, manifests: [...others, entry] })))
  }

  async readJson(d: Descriptor): Promise<Buffer> {
    return readFile(this.blobPath(d))
  }

  async close(): Promise<void> { /* nothing held open */ }
}
