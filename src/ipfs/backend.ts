import type { CID } from 'multiformats/cid'
import type { IpnsService } from './ipns.js'

/**
 * Where blobs go and come from: a kubo daemon, or the embedded on-disk store when none answers.
 * Both give the same CIDs for the same bytes (profile.ts).
 */
export interface IpfsBackend {
  /** For the stderr line that says which backend is used. */
  readonly description: string
  /** Store a blob as a UnixFS file and pin it; resolves to its CID, which is checked to be our profile's (profile-shape.ts on kubo). */
  add(bytes: AsyncIterable<Uint8Array>, options?: { signal?: AbortSignal }): Promise<CID>
  /** A UnixFS file's bytes, optionally a range of them. */
  cat(cid: CID, options?: { offset?: number; length?: number; signal?: AbortSignal }): AsyncIterable<Uint8Array>
  /** IPNS on this backend; loaded on first use (it pulls in the signing code). */
  ipns(): Promise<IpnsService>
  /** Present on a node that keeps what it pins and serves it to its peers (kubo); absent elsewhere. */
  readonly pinning?: Pinning
  close(): Promise<void>
}

/** Pins on one IPFS node, by CID text; "pin" is recursive throughout. */
export interface Pinning {
  /** The node's peer ID: API addresses change between restarts, the node does not. */
  peerId(): Promise<string>
  isPinned(cid: string): Promise<boolean>
  pin(cids: readonly string[]): Promise<void>
  /** Unpinning what is not pinned (someone unpinned it already) is not an error. */
  unpin(cids: readonly string[]): Promise<void>
  /** The bytes a CID's DAG holds (a UnixFS file: its blocks, as the repo keeps them). */
  sizeOf(cid: string): Promise<number>
  /** The repo's size now, in bytes. */
  repoSize(): Promise<number>
  /** Remove every block no pin holds (kubo's repo GC); resolves once it is done. */
  collectGarbage(): Promise<void>
}
