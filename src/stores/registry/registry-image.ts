import type { IncomingMessage } from 'node:http'
import { IntegrityError, IpcrError, NotFoundError, UnavailableError, UsageError } from '../../errors.js'
import type { Descriptor } from '../../oci/descriptor.js'
import { readAll, sha256Digest, verifyStream } from '../../oci/digest.js'
import { LimitExceededError } from '../../oci/limits.js'
import { isIndex, isManifest, MediaType } from '../../oci/media-types.js'
import type { ImageSink, ImageSource } from '../../oci/store.js'
import { formatSize } from '../../util/size.js'
import type { RegistryClient } from './client.js'
import { discard, readBody } from './http.js'
import { describeRewritten, registryManifest } from './manifest-urls.js'
import { formatRegistryName, referenceOf, type RegistryImageName } from './name.js'
import { uploadBlob, type UploadOptions } from './upload.js'

/** Every manifest type we can walk, best first: a registry picks the first it has. */
const manifestAccept = [MediaType.OciIndex, MediaType.OciManifest, MediaType.DockerManifestList, MediaType.DockerManifest].join(', ')

export interface RegistryImageSettings extends UploadOptions {
  /** Largest manifest or index read whole (the --max-manifest-size limit). */
  manifestSize: number
}

interface Stored { desc: Descriptor; bytes: Uint8Array }

/**
 * An image in a registry, `docker://HOST/REPO:TAG` or `…@sha256:…`, read and written through
 * the distribution API. Manifests and indexes go to /manifests, everything else to /blobs.
 */
export class RegistryImage implements ImageSource, ImageSink {
  readonly location: string
  private readonly display: string
  private rootRead: Stored | undefined
  /** What the registry holds for each manifest pushed, by the digest the walk knows it by. */
  private readonly pushed = new Map<string, Stored>()
  private readonly pull: string[]
  private readonly push: string[]

  constructor(private readonly name: RegistryImageName, private readonly client: RegistryClient, private readonly settings: RegistryImageSettings) {
    this.display = formatRegistryName(name)
    this.location = `docker://${this.display}`
    this.pull = [`repository:${name.repository}:pull`]
    this.push = [`repository:${name.repository}:pull,push`]
  }

  private manifestPath(reference: string): string {
    return `/v2/${this.name.repository}/manifests/${reference}`
  }

  async root(): Promise<Descriptor> {
    if (this.rootRead) return this.rootRead.desc
    const what = `reading ${this.location}`
    const res = await this.client.request('GET', this.manifestPath(referenceOf(this.name)), { scopes: this.pull, what, headers: { Accept: manifestAccept } })
    if (res.statusCode === 404) {
      const err = await this.client.failure(res, what)
      throw new NotFoundError(`image ${this.display} not found: ${err.message.slice(what.length + 2)}`)
    }
    if (res.statusCode !== 200) throw await this.client.failure(res, what)
    const bytes = await this.readManifest(res, `the manifest of ${this.display}`)
    const digest = sha256Digest(bytes)
    const claimed = res.headers['docker-content-digest']
    if (this.name.digest !== undefined && digest !== this.name.digest) {
      throw new IntegrityError(`${this.location}: ${this.client.registry} sent a manifest whose digest is ${digest}`)
    }
    if (typeof claimed === 'string' && claimed.startsWith('sha256:') && claimed !== digest) {
      throw new IntegrityError(`${this.location}: the manifest's digest is ${digest}, but ${this.client.registry} said ${claimed}`)
    }
    const mediaType = mediaTypeOf(res, bytes)
    if (!isIndex(mediaType) && !isManifest(mediaType)) {
      throw new UsageError(`${this.location} is not an image: its manifest type is ${mediaType || 'not given'} (schema 1 and artifacts are not supported)`)
    }
    const desc: Descriptor = { mediaType, digest, size: bytes.byteLength }
    this.rootRead = { desc, bytes }
    return desc
  }

  /** A manifest read whole, but never more than the manifest limit, whatever Content-Length says. */
  private async readManifest(res: IncomingMessage, what: string): Promise<Buffer> {
    const limit = this.settings.manifestSize
    const tooLarge = (size?: number): LimitExceededError => new LimitExceededError('manifestSize',
      `${what} in ${this.client.registry} is ${size !== undefined ? formatSize(size) : 'larger than that'}, over the ${formatSize(limit)} limit for an image manifest`)
    const length = Number(res.headers['content-length'])
    if (Number.isFinite(length) && length > limit) { res.destroy(); throw tooLarge(length) }
    return readBody(res, limit, () => tooLarge())
  }

  async *blob(desc: Descriptor): AsyncGenerator<Uint8Array> {
    if (this.rootRead?.desc.digest === desc.digest) { yield this.rootRead.bytes; return }
    const json = isIndex(desc.mediaType) || isManifest(desc.mediaType)
    const kind = json ? 'manifest' : 'blob'
    const what = `reading ${kind} ${desc.digest} from ${this.client.registry}/${this.name.repository}`
    const path = json ? this.manifestPath(desc.digest) : `/v2/${this.name.repository}/blobs/${desc.digest}`
    const res = await this.client.request('GET', path, { scopes: this.pull, what, ...(json ? { headers: { Accept: desc.mediaType } } : {}) })
    if (res.statusCode !== 200) throw await this.client.failure(res, what)
    // Checked here as well as by the walk, so that bad bytes are reported as the registry's.
    try {
      yield* verifyStream(desc, res as AsyncIterable<Uint8Array>, `${kind} ${desc.digest} from ${this.client.registry}/${this.name.repository}`)
    } catch (err) {
      if (err instanceof IpcrError) throw err
      // Not retried here: the bytes before the break have been handed on already.
      throw new UnavailableError(`${what}: the connection broke mid-transfer (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`, { cause: err })
    } finally {
      res.destroy()
    }
  }

  async putBlob(desc: Descriptor, bytes: AsyncIterable<Uint8Array>): Promise<void> {
    if (!isIndex(desc.mediaType) && !isManifest(desc.mediaType)) {
      return uploadBlob(this.client, this.name.repository, desc, bytes, this.settings)
    }
    const original = await readAll(verifyStream(desc, bytes))
    const rewritten = registryManifest(original, desc.mediaType, new Map([...this.pushed].map(([k, v]) => [k, v.desc])))
    const stored: Stored = rewritten ? { desc: describeRewritten(desc, rewritten), bytes: rewritten } : { desc, bytes: original }
    await this.putManifest(stored, stored.desc.digest)
    this.pushed.set(desc.digest, stored)
  }

  private async putManifest(m: Stored, reference: string): Promise<void> {
    const what = `pushing manifest ${m.desc.digest} to ${this.display}`
    const res = await this.client.request('PUT', this.manifestPath(reference), { scopes: this.push, what, body: m.bytes, headers: { 'Content-Type': m.desc.mediaType } })
    if (res.statusCode !== 201 && res.statusCode !== 200) throw await this.client.failure(res, what)
    discard(res)
  }

  /** Name the image: its tag, or, for `@sha256:` destinations, check that the digest is the one pushed. */
  async tag(root: Descriptor): Promise<void> {
    const stored = this.pushed.get(root.digest)
    if (stored === undefined) throw new IntegrityError(`${this.location}: the root manifest ${root.digest} was never pushed`)
    if (this.name.digest !== undefined && stored.desc.digest !== this.name.digest) {
      throw new UsageError(`${this.location}: the image pushed has digest ${stored.desc.digest}, not the one named; push by tag instead`)
    }
    if (this.name.tag !== undefined) await this.putManifest(stored, this.name.tag)
  }

  /** The descriptor the registry holds for a pushed root (its digest changes when ipfs:// URLs were dropped). */
  storedRoot(root: Descriptor): Descriptor | undefined {
    return this.pushed.get(root.digest)?.desc
  }

  async close(): Promise<void> {
    this.client.close()
  }
}

/** The media type from Content-Type (parameters dropped), else from the JSON's own mediaType field. */
function mediaTypeOf(res: IncomingMessage, bytes: Buffer): string {
  const header = (res.headers['content-type'] ?? '').split(';')[0]?.trim() ?? ''
  if (isIndex(header) || isManifest(header)) return header
  try {
    const field = (JSON.parse(bytes.toString('utf8')) as { mediaType?: unknown }).mediaType
    if (typeof field === 'string') return field
  } catch { /* not JSON: reported by the caller as not an image */ }
  return header
}
