import { createHash } from 'node:crypto'
import * as dagPb from '@ipld/dag-pb'
import * as raw from 'multiformats/codecs/raw'
import { sha256 } from 'multiformats/hashes/sha2'
import type { CID } from 'multiformats/cid'
import { IntegrityError } from '../errors.js'
import { cidText } from './cid.js'

/** Fetch one block, already checked against its CID. */
export type GetBlock = (cid: CID, options?: { signal?: AbortSignal }) => Promise<Uint8Array>

/** Whether these bytes hash to the CID's multihash (sha2-256, the only hash our profile makes). */
export function blockMatches(cid: CID, bytes: Uint8Array): boolean {
  if (cid.multihash.code !== sha256.code) return false
  const digest = createHash('sha256').update(bytes).digest()
  return Buffer.compare(digest, cid.multihash.digest) === 0
}

/** Throw IntegrityError naming the CID (and where the block came from) unless the bytes are that block. */
export function verifyBlock(cid: CID, bytes: Uint8Array, from: string): Uint8Array {
  if (cid.multihash.code !== sha256.code) {
    throw new IntegrityError(`block ${cidText(cid)} from ${from} uses hash 0x${cid.multihash.code.toString(16)}, which ipcr does not verify (only sha2-256)`)
  }
  if (!blockMatches(cid, bytes)) throw new IntegrityError(`block ${cidText(cid)} from ${from} does not match its CID`)
  return bytes
}

/** The CIDs a block links to: dag-pb links; raw blocks and other codecs have none we follow. */
export function linksOf(cid: CID, bytes: Uint8Array): CID[] {
  if (cid.code === raw.code) return []
  if (cid.code !== dagPb.code) return []
  return dagPb.decode(bytes).Links.map((l) => l.Hash)
}
