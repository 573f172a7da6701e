import { digestHex, isDigest, type Digest } from '../../oci/digest.js'
import type { StorageDriver } from './driver.js'

/** A blob kept in IPFS: the CID its bytes were added as (the kubo-identical profile) and its size. */
export interface StoredBlob {
  cid: string
  size: number
}

/** A manifest or index exactly as a client pushed it, and what the referrers API lists of it. */
export interface StoredManifest {
  mediaType: string
  bytes: Buffer
  /** The CID of the same bytes in IPFS (a manifest is a blob too). */
  cid: string
  subject?: Digest
  artifactType?: string
  annotations?: Record<string, string>
}

/** What a tag points at, and the IPFS-enabled image made from it when it was pushed. */
export interface TagRecord {
  digest: Digest
  /** The root descriptor's CID of the IPFS-enabled image (absent while none was made). */
  root?: string
  ipnsName?: string
  /**
   * The tag was deleted here. Kept as a tombstone: the IPNS name published for it cannot be
   * withdrawn, and without this mark a GET of the deleted tag would find the image through it.
   */
  deleted?: true
}

interface ManifestFile extends Omit<StoredManifest, 'bytes'> { bytes: string }

/**
 * The registry's own records, laid out on a StorageDriver as distribution lays out its
 * repositories: a global index of blobs by digest (the bytes live in IPFS), and per repository
 * links to the blobs it holds, its manifests (bytes kept as pushed), tags and referrers.
 *
 *   blobs/sha256/<hex>.json                          {cid, size}
 *   repositories/<name>/_blobs/sha256/<hex>          (a link: the repository holds the blob)
 *   repositories/<name>/_manifests/sha256/<hex>.json {mediaType, bytes (base64), cid, subject, …}
 *   repositories/<name>/_tags/<tag>.json             {digest, root, ipnsName}
 *   repositories/<name>/_referrers/sha256/<subject hex>/<hex>
 *
 * Repository names and tags reach here checked against the spec's grammar, so they are safe path
 * parts, and no name component starts with `_`: the `_` directories never meet a repository.
 */
export class RegistryMetadata {
  constructor(private readonly d: StorageDriver) {}

  async blob(digest: Digest): Promise<StoredBlob | undefined> {
    return json<StoredBlob>(await this.d.get(`blobs/sha256/${digestHex(digest)}.json`))
  }

  putBlob(digest: Digest, blob: StoredBlob): Promise<void> {
    return this.d.put(`blobs/sha256/${digestHex(digest)}.json`, Buffer.from(JSON.stringify(blob)))
  }

  async linked(repo: string, digest: Digest): Promise<boolean> {
    return (await this.d.get(this.linkPath(repo, digest))) !== undefined
  }

  link(repo: string, digest: Digest): Promise<void> {
    return this.d.put(this.linkPath(repo, digest), Buffer.alloc(0))
  }

  unlink(repo: string, digest: Digest): Promise<void> {
    return this.d.delete(this.linkPath(repo, digest))
  }

  async manifest(repo: string, digest: Digest): Promise<StoredManifest | undefined> {
    const file = json<ManifestFile>(await this.d.get(this.manifestPath(repo, digest)))
    return file && { ...file, bytes: Buffer.from(file.bytes, 'base64') }
  }

  async putManifest(repo: string, digest: Digest, m: StoredManifest): Promise<void> {
    const file: ManifestFile = { ...m, bytes: m.bytes.toString('base64') }
    await this.d.put(this.manifestPath(repo, digest), Buffer.from(JSON.stringify(file)))
    if (m.subject) await this.d.put(`${this.referrersDir(repo, m.subject)}/${digestHex(digest)}`, Buffer.alloc(0))
  }

  async deleteManifest(repo: string, digest: Digest): Promise<void> {
    const m = await this.manifest(repo, digest)
    if (m?.subject) await this.d.delete(`${this.referrersDir(repo, m.subject)}/${digestHex(digest)}`)
    await this.d.delete(this.manifestPath(repo, digest))
  }

  async tag(repo: string, tag: string): Promise<TagRecord | undefined> {
    return json<TagRecord>(await this.d.get(this.tagPath(repo, tag)))
  }

  setTag(repo: string, tag: string, record: TagRecord): Promise<void> {
    return this.d.put(this.tagPath(repo, tag), Buffer.from(JSON.stringify(record)))
  }

  /** Mark a tag deleted (see TagRecord.deleted). */
  async deleteTag(repo: string, tag: string): Promise<void> {
    const record = await this.tag(repo, tag)
    if (record && !record.deleted) await this.setTag(repo, tag, { digest: record.digest, deleted: true })
  }

  /** Every tag with a record here, deleted ones included (each record says). */
  async tagRecords(repo: string): Promise<Map<string, TagRecord>> {
    const names = (await this.d.list(`repositories/${repo}/_tags`)).filter((n) => n.endsWith('.json')).map((n) => n.slice(0, -'.json'.length))
    const out = new Map<string, TagRecord>()
    for (const name of names.sort()) {
      const record = await this.tag(repo, name)
      if (record) out.set(name, record)
    }
    return out
  }

  /** The manifests that name `subject` as theirs, in this repository. */
  async referrers(repo: string, subject: Digest): Promise<Digest[]> {
    return (await this.d.list(this.referrersDir(repo, subject))).map((hex) => `sha256:${hex}`).filter(isDigest)
  }

  private linkPath(repo: string, digest: Digest): string {
    return `repositories/${repo}/_blobs/sha256/${digestHex(digest)}`
  }

  private manifestPath(repo: string, digest: Digest): string {
    return `repositories/${repo}/_manifests/sha256/${digestHex(digest)}.json`
  }

  private tagPath(repo: string, tag: string): string {
    return `repositories/${repo}/_tags/${tag}.json`
  }

  private referrersDir(repo: string, subject: Digest): string {
    return `repositories/${repo}/_referrers/sha256/${digestHex(subject)}`
  }
}

function json<T>(bytes: Buffer | undefined): T | undefined {
  return bytes === undefined ? undefined : (JSON.parse(bytes.toString('utf8')) as T)
}
