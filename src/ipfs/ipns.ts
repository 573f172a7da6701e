import type { CID } from 'multiformats/cid'

export interface PublishRequest {
  /** The image reference whose derived key signs the record. */
  ref: string
  /** Sign with this existing kubo key instead (authenticity the derived key cannot give). */
  key?: string | undefined
  lifetimeMs: number
  ttlMs: number
}

export interface Published {
  /** The IPNS name, `k51…`. */
  name: string
  /** When the record stops validating unless republished. */
  expires: Date
}

/** IPNS as ipcr uses it: publish a root under a reference's key, resolve a name back to a root. */
export interface IpnsService {
  publish(root: CID, req: PublishRequest): Promise<Published>
  /** /ipns/<name> -> root CID, bypassing caches. `name` is a k51… name, a key name or a DNSLink domain. */
  resolve(name: string, options?: { signal?: AbortSignal }): Promise<CID>
  /** Expiry of the record currently held for `name`, when this node has one. */
  expiry(name: string): Promise<Date | undefined>
  /** How long resolvers may cache the record held for `name` (its TTL, in ms), when this node has one. */
  ttl(name: string): Promise<number | undefined>
}

/** A record's TTL (nanoseconds on the wire) in milliseconds. */
export function ttlMsOf(record: { ttl?: bigint | undefined }): number | undefined {
  return record.ttl === undefined ? undefined : Number(record.ttl / 1_000_000n)
}
