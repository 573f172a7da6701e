import type { Digest } from '../oci/digest.js'
import type { TableEntry } from './digest-table.js'
import type { ByteSpan } from './range.js'
import type { ManifestRef, Repository } from './names.js'

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

/** Whether the storage answers. */
export interface HealthProbe {
  healthy(): Promise<boolean>
}

/** What the catalog reports, for /metrics. */
export interface CatalogEvents {
  tableCache(result: 'hit' | 'miss'): void
  resolved(seconds: number, outcome: 'ok' | 'timeout' | 'error'): void
}
