import { IntegrityError } from '../errors.js'
import type { IpfsBackend } from '../ipfs/backend.js'
import { cidText } from '../ipfs/cid.js'
import type { Descriptor } from '../oci/descriptor.js'
import { sha256Digest, type Digest } from '../oci/digest.js'
import { parseIndex, parseManifest } from '../oci/manifest.js'
import { isIndex, isManifest } from '../oci/media-types.js'
import { once } from '../util/once.js'
import { RegistryError } from './errors.js'
import { isForeign } from './foreign.js'
import type { IpfsImagePublisher, PublishedImage } from './ipfs-image.js'
import type { ManifestRef } from './names.js'
import type { PushedBlobs } from './storage/blobs.js'
import type { RegistryMetadata, StoredManifest } from './storage/metadata.js'

/** What a manifest PUT kept, and the IPFS-enabled image a tag push became. */
export interface PutResult {
  digest: Digest
  subject?: Digest
  /** The tags set, each published (the URL's tag and any `?tag=` parameters). */
  tags: string[]
  published?: PublishedImage
}

/**
 * Manifests pushed through the API. A manifest is checked before anything is kept: its digest
 * against the one in the URL, its media type against its Content-Type, and every blob (or, for an
 * index, every manifest) it references against what this repository holds (MANIFEST_BLOB_UNKNOWN).
 * Its bytes are kept exactly as pushed, so a GET by tag or digest returns what the client hashed;
 * a tag push also makes and publishes the IPFS-enabled image, and only then is the tag set.
 */
export class PushedManifests {
  private readonly tagging = new Map<string, Promise<unknown>>()

  constructor(
    private readonly meta: RegistryMetadata,
    private readonly blobs: PushedBlobs,
    private readonly ipfs: IpfsBackend,
    private readonly publisher: IpfsImagePublisher,
    private readonly notify: (line: string) => void = () => undefined,
  ) {}

  async put(repo: string, ref: ManifestRef, contentType: string | undefined, bytes: Buffer, tagParams: readonly string[] = []): Promise<PutResult> {
    const digest = sha256Digest(bytes)
    if (ref.kind === 'digest' && ref.digest !== digest) {
      throw new RegistryError('DIGEST_INVALID', `the manifest's bytes hash to ${digest}, not ${ref.digest} as its URL says`)
    }
    const stored = await this.check(repo, contentType, bytes)
    const cid = cidText(await this.ipfs.add(once(bytes)))
    await this.meta.putBlob(digest, { cid, size: bytes.byteLength })
    await this.meta.putManifest(repo, digest, { ...stored, cid })
    const tags = [...new Set([...(ref.kind === 'tag' ? [ref.tag] : []), ...tagParams])]
    const result: PutResult = { digest, tags, ...(stored.subject ? { subject: stored.subject } : {}) }
    for (const tag of tags) result.published = await this.tag(repo, tag, digest)
    return result
  }

  /** Remove a tag, or a manifest with every tag that points at it (as distribution does). */
  async delete(repo: string, ref: ManifestRef): Promise<void> {
    if (ref.kind === 'tag') {
      const record = await this.meta.tag(repo, ref.tag)
      if (!record || record.deleted) throw new RegistryError('MANIFEST_UNKNOWN', `${repo} has no tag ${ref.tag}`)
      await this.meta.deleteTag(repo, ref.tag)
      return
    }
    if (!(await this.meta.manifest(repo, ref.digest))) throw new RegistryError('MANIFEST_UNKNOWN', { digest: ref.digest })
    for (const [tag, record] of await this.meta.tagRecords(repo)) {
      if (record.digest === ref.digest && !record.deleted) await this.meta.deleteTag(repo, tag)
    }
    await this.meta.deleteManifest(repo, ref.digest)
  }

  /**
   * Publish, then set the tag: one tag at a time, so concurrent pushes of one image make one root
   * and a push of what the tag already names (with its image made) costs nothing more.
   */
  private tag(repo: string, tag: string, digest: Digest): Promise<PublishedImage> {
    const key = `${repo}:${tag}`
    const run = async (): Promise<PublishedImage> => {
      const current = await this.meta.tag(repo, tag)
      if (current?.digest === digest && !current.deleted && current.root !== undefined && current.ipnsName !== undefined) {
        return { ref: key, root: current.root, ipnsName: current.ipnsName }
      }
      const published = await this.publisher.publish(repo, tag, digest)
      await this.meta.setTag(repo, tag, { digest, root: published.root, ipnsName: published.ipnsName })
      this.notify(`pushed ${key} (${digest}): IPFS root ${published.root}, published as /ipns/${published.ipnsName}`)
      return published
    }
    const next = (this.tagging.get(key) ?? Promise.resolve()).catch(() => undefined).then(run)
    this.tagging.set(key, next)
    void next.catch(() => undefined).finally(() => { if (this.tagging.get(key) === next) this.tagging.delete(key) })
    return next
  }

  /** The manifest as it will be kept, once everything it says checks out. */
  private async check(repo: string, contentType: string | undefined, bytes: Buffer): Promise<Omit<StoredManifest, 'cid'>> {
    let body: { mediaType?: unknown; schemaVersion?: unknown }
    try {
      body = JSON.parse(bytes.toString('utf8')) as typeof body
    } catch (err) {
      throw new RegistryError('MANIFEST_INVALID', `not JSON: ${(err as Error).message}`)
    }
    if (typeof body !== 'object' || body === null) throw new RegistryError('MANIFEST_INVALID', 'not a JSON object')
    const declared = typeof body.mediaType === 'string' ? body.mediaType : undefined
    const given = contentType?.split(';')[0]?.trim()
    if (declared !== undefined && given !== undefined && given !== '' && declared !== given) {
      throw new RegistryError('MANIFEST_INVALID', `its mediaType is ${declared} but it was sent as ${given}`)
    }
    const mediaType = declared ?? given
    if (mediaType === undefined || (!isIndex(mediaType) && !isManifest(mediaType))) {
      throw new RegistryError('MANIFEST_INVALID', `${mediaType ?? 'no media type'}: expected an OCI or Docker schema 2 image manifest or index (as Content-Type)`)
    }
    if (body.schemaVersion !== 2) throw new RegistryError('MANIFEST_INVALID', `schemaVersion ${JSON.stringify(body.schemaVersion)}: only 2 is supported`)
    try {
      if (isIndex(mediaType)) {
        const index = parseIndex(bytes)
        for (const m of index.manifests ?? []) {
          if (!(await this.meta.manifest(repo, m.digest))) throw new RegistryError('MANIFEST_BLOB_UNKNOWN', { digest: m.digest })
        }
        return describe(mediaType, bytes, index.subject, index.artifactType, index.annotations)
      }
      const m = parseManifest(bytes)
      for (const blob of [m.config, ...(m.layers ?? []).filter((l) => !isForeign(l))]) {
        if (!(await this.blobs.stat(repo, blob.digest))) throw new RegistryError('MANIFEST_BLOB_UNKNOWN', { digest: blob.digest })
      }
      return describe(mediaType, bytes, m.subject, m.artifactType ?? m.config.mediaType, m.annotations)
    } catch (err) {
      if (err instanceof IntegrityError) throw new RegistryError('MANIFEST_INVALID', err.message)
      throw err
    }
  }
}

function describe(mediaType: string, bytes: Buffer, subject: Descriptor | undefined, artifactType: string | undefined, annotations: Record<string, string> | undefined): Omit<StoredManifest, 'cid'> {
  return {
    mediaType, bytes,
    ...(subject ? { subject: subject.digest } : {}),
    ...(artifactType !== undefined ? { artifactType } : {}),
    ...(annotations ? { annotations } : {}),
  }
}
