import { UsageError } from '../errors.js'
import { parseCid, type CID } from './cid.js'

/**
 * What rpull was given: a root CID in any of its spellings, an IPNS name, or an image reference
 * (published under a key derived from it). Told apart by parsing: a string that parses as a CID is one.
 */
export type PullRef =
  | { kind: 'cid'; cid: CID }
  | { kind: 'ipns'; name: string }
  | { kind: 'ref'; ref: string }

function tryCid(text: string): CID | undefined {
  try { return parseCid(text) } catch { return undefined }
}

export function parsePullRef(input: string): PullRef {
  const text = input.trim()
  if (text === '') throw new UsageError('no image given: expected a CID, ipfs://CID, /ipfs/CID, /ipns/NAME or an image reference')
  for (const prefix of ['ipfs://', '/ipfs/']) {
    if (text.startsWith(prefix)) {
      const rest = text.slice(prefix.length).replace(/\/+$/, '')
      const cid = tryCid(rest)
      if (!cid) throw new UsageError(`"${input}": "${rest}" is not a CID`)
      return { kind: 'cid', cid }
    }
  }
  for (const prefix of ['ipns://', '/ipns/']) {
    if (text.startsWith(prefix)) {
      const name = text.slice(prefix.length).replace(/\/+$/, '')
      if (name === '' || name.includes('/')) throw new UsageError(`"${input}": expected ${prefix}NAME with a key name or DNSLink domain`)
      return { kind: 'ipns', name }
    }
  }
  const cid = tryCid(text)
  if (cid) return { kind: 'cid', cid }
  return { kind: 'ref', ref: text }
}
