import { parseCid } from '../ipfs/cid.js'
import type { Descriptor } from '../oci/descriptor.js'
import type { Digest } from '../oci/digest.js'
import type { TableEntry } from '../stores/ipfs-walk.js'
import { RegistryError } from './errors.js'
import type { ManifestRef, Repository } from './names.js'
import type { BlobStatter, ManifestFinder, ReferrerLister, TagLister } from './roles.js'
import type { PushedBlobs } from './storage/blobs.js'
import type { RegistryMetadata, StoredManifest } from './storage/metadata.js'

/**
 * What the registry serves: what was pushed to it first (bytes as pushed, tags as set), then what
 * IPFS knows (the catalog: roots, IPNS names). A reference repository is the same name in both,
 * so a pushed `R:T` is answered here without asking IPNS, and another node, which has only IPNS,
 * answers with the IPFS-enabled image made from it. A tag deleted here stays deleted: its
 * tombstone stops the lookup before IPNS, which still names the image.
 */
export class RegistryContent implements ManifestFinder, BlobStatter, TagLister, ReferrerLister {
  constructor(
    private readonly meta: RegistryMetadata,
    private readonly blobs: PushedBlobs,
    private readonly ipfs: ManifestFinder & BlobStatter & TagLister,
  ) {}

  async manifest(repo: Repository, ref: ManifestRef): Promise<TableEntry & { manifest: Buffer }> {
    if (repo.kind === 'ref') {
      let digest: Digest | undefined = ref.kind === 'digest' ? ref.digest : undefined
      if (ref.kind === 'tag') {
        const record = await this.meta.tag(repo.base, ref.tag)
        if (record?.deleted) throw new RegistryError('MANIFEST_UNKNOWN', `${repo.base}:${ref.tag} was deleted`)
        digest = record?.digest
      }
      const pushed = digest === undefined ? undefined : await this.meta.manifest(repo.base, digest)
      if (pushed && digest !== undefined) return manifestEntry(digest, pushed)
    }
    return this.ipfs.manifest(repo, ref)
  }

  async stat(repo: Repository, digest: Digest): Promise<TableEntry> {
    if (repo.kind === 'ref') {
      const blob = await this.blobs.stat(repo.base, digest)
      if (blob) return { desc: { mediaType: 'application/octet-stream', digest, size: blob.size }, cid: parseCid(blob.cid) }
      const manifest = await this.meta.manifest(repo.base, digest)
      if (manifest) return manifestEntry(digest, manifest)
    }
    return this.ipfs.stat(repo, digest)
  }

  async tags(repo: Repository): Promise<string[]> {
    if (repo.kind !== 'ref') return this.ipfs.tags(repo)
    const records = await this.meta.tagRecords(repo.base)
    const fromIpfs = await this.ipfs.tags(repo).catch((err: unknown) => {
      if (err instanceof RegistryError && err.code === 'NAME_UNKNOWN') return []
      throw err
    })
    const tags = new Set([...fromIpfs.filter((t) => !records.get(t)?.deleted), ...[...records].flatMap(([t, r]) => (r.deleted ? [] : [t]))])
    if (tags.size === 0) throw new RegistryError('NAME_UNKNOWN', `no tag of ${repo.base} is known here`)
    return [...tags].sort()
  }

  async referrers(repo: Repository, subject: Digest): Promise<Descriptor[]> {
    if (repo.kind !== 'ref') return []
    const out: Descriptor[] = []
    for (const digest of await this.meta.referrers(repo.base, subject)) {
      const m = await this.meta.manifest(repo.base, digest)
      if (!m) continue
      out.push({
        mediaType: m.mediaType, digest, size: m.bytes.byteLength,
        ...(m.artifactType !== undefined ? { artifactType: m.artifactType } : {}),
        ...(m.annotations ? { annotations: m.annotations } : {}),
      })
    }
    return out
  }
}

function manifestEntry(digest: Digest, m: StoredManifest): TableEntry & { manifest: Buffer } {
  return { desc: { mediaType: m.mediaType, digest, size: m.bytes.byteLength }, cid: parseCid(m.cid), manifest: m.bytes }
}
