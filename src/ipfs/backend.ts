import type { CID } from 'multiformats/cid'
import type { IpnsService } from './ipns.js'

/**
 * Where blobs go and come from: a kubo daemon, or the embedded on-disk store when none answers.
 * Both give the same CIDs for the same bytes (profile.ts).
 */
export interface IpfsBackend {
  /** For the stderr line that says which backend is used. */
  readonly description: string
  /** Store a blob as a UnixFS file and pin it; resolves to its CID, checked against our own computation. */
  add(bytes: AsyncIterable<Uint8Array>, options?: { signal?: AbortSignal }): Promise<CID>
  /** A UnixFS file's bytes, optionally a range of them. */
  cat(cid: CID, options?: { offset?: number; length?: number; signal?: AbortSignal }): AsyncIterable<Uint8Array>
  /** IPNS on this backend; loaded on first use (it pulls in the signing code). */
  ipns(): Promise<IpnsService>
  close(): Promise<void>
}
