import type { IncomingMessage } from 'node:http'
import type { Descriptor } from '../oci/descriptor.js'
import type { Digest } from '../oci/digest.js'
import type { TableEntry } from '../stores/ipfs-walk.js'
import type { ByteSpan } from './range.js'
import type { ManifestRef, Repository } from './names.js'
import type { PutResult } from './pushed-manifests.js'
import type { StoredBlob } from './storage/metadata.js'
import type { UploadSession } from './storage/uploads.js'

// The narrow roles handlers reach storage through (the shape of CNCF distribution's blobs.go):
// each handler takes only what it needs, and a test hands it a fake of just that.

/** A manifest or index by tag or digest: its descriptor and its bytes exactly as they are in IPFS. */
export interface ManifestFinder {
  manifest(repo: Repository, ref: ManifestRef): Promise<TableEntry & { manifest: Buffer }>
}

/** Which blob a digest names in a repository (BLOB_UNKNOWN when its images do not reference it). */
export interface BlobStatter {
  stat(repo: Repository, digest: Digest): Promise<TableEntry>
}

/** A blob's bytes, or a span of them, straight from IPFS. */
export interface BlobReader {
  read(entry: TableEntry, span?: ByteSpan, signal?: AbortSignal): AsyncIterable<Uint8Array>
}

/** The tags a repository is known by (NAME_UNKNOWN when none). */
export interface TagLister {
  tags(repo: Repository): Promise<string[]>
}

/** The manifests in a repository whose `subject` is a given digest, as the referrers API lists them. */
export interface ReferrerLister {
  referrers(repo: Repository, subject: Digest): Promise<Descriptor[]>
}

/** Upload sessions (storage/uploads.ts): bytes spooled until a commit checks their digest. */
export interface BlobUploads {
  start(repo: string): Promise<UploadSession>
  get(repo: string, id: string): Promise<UploadSession>
  append(session: UploadSession, body: AsyncIterable<Uint8Array>, o?: { start?: number; length?: number }): Promise<UploadSession>
  digest(session: UploadSession): Promise<Digest>
  /** Mark the session's checked bytes as becoming the blob `digest`: closed to clients, kept across a restart. */
  seal(session: UploadSession, digest: Digest): Promise<void>
  bytes(session: UploadSession): AsyncIterable<Uint8Array>
  remove(id: string): Promise<void>
}

/** Where verified blobs are kept (storage/blobs.ts). */
export interface BlobKeeper {
  /** Keep checked bytes as `digest` in `repo`, the IPFS add running on after the return; `release` runs once the bytes are no longer needed. */
  accept(repo: string, digest: Digest, size: number, bytes: () => AsyncIterable<Uint8Array>, release: () => Promise<void>): void
  /** Link a blob `from` holds (any kept blob, without `from`) into `repo`; undefined when there is none. */
  mount(repo: string, from: string | undefined, digest: Digest): Promise<StoredBlob | undefined>
  delete(repo: string, digest: Digest): Promise<boolean>
}

/** Manifest PUT and DELETE (pushed-manifests.ts). */
export interface ManifestWriter {
  /** `tagParams`: the `?tag=` parameters of a push by digest (distribution-spec 1.1.1), each set too. */
  put(repo: string, ref: ManifestRef, contentType: string | undefined, bytes: Buffer, tagParams?: readonly string[]): Promise<PutResult>
  delete(repo: string, ref: ManifestRef): Promise<void>
}

/**
 * Who may write: checked before a write's handler runs, and on `GET /v2/`, where clients learn
 * which credentials the registry asks for. Each throws the RegistryError the client gets.
 */
export interface WriteAccess {
  authorizeWrite(req: IncomingMessage): Promise<void>
  authorizeBase(req: IncomingMessage): Promise<void>
}

/** Whether the storage answers. */
export interface HealthProbe {
  healthy(): Promise<boolean>
}

/** What the catalog reports, for /metrics. */
export interface CatalogEvents {
  tableCache(result: 'hit' | 'miss'): void
  resolved(seconds: number, outcome: 'ok' | 'timeout' | 'error'): void
}
