import { base58btc } from 'multiformats/bases/base58'
import { decode as decodeMultihash } from 'multiformats/hashes/digest'
import { UsageError } from '../errors.js'
import { parseTaggedReference, ReferenceError } from '../oci/reference.js'
import { parseCid, type CID } from './cid.js'
import { libp2pKeyCode } from './ipns-key.js'

/**
 * What rpull was given: a root CID in any of its spellings, an IPNS name, or an image reference
 * (published under a key derived from it). Told apart by parsing: a string that parses as a CID is one.
 */
export type PullRef =
  | { kind: 'cid'; cid: CID }
  | { kind: 'ipns'; name: string }
  | { kind: 'ref'; ref: string }

const forms = 'expected a CID, ipfs://CID, /ipfs/CID, /ipns/NAME, ipns://NAME, or an image reference NAME:TAG or NAME@sha256:DIGEST'

/** Every refusal quotes the input and lists the forms, so one line tells the user what to type instead. */
function refuse(input: string, problem: string): UsageError {
  return new UsageError(`"${input}" ${problem}; ${forms}`)
}

function tryCid(text: string): CID | undefined {
  try { return parseCid(text) } catch { return undefined }
}

/**
 * The beginnings of CIDs as the Go tools print them (CIDv1 base32 `baf…`/`bag…`, CIDv0 `Qm…`,
 * base36 key names `k51…`): such a string that does not parse was most likely cut short when pasted.
 */
const cidLike = /^(?:ba[fg][a-z2-7]|Qm|k51|k2k4r8|zb2|zdj)/

/** A domain as DNSLink names it: DNS labels with a TLD that is not all digits. */
const dnsLinkDomain = /^(?=.{1,253}$)(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/

/** A legacy peer ID: a base58btc multihash (12D3KooW… for Ed25519, Qm… for RSA), as kubo accepts it. */
function isPeerId(name: string): boolean {
  try {
    const multihash = decodeMultihash(base58btc.baseDecode(name))
    return multihash.code === 0x00 || multihash.code === 0x12
  } catch {
    return false
  }
}

/** Why `name` cannot follow /ipns/, or undefined: kubo takes a key name (a peer ID or libp2p-key CID) or a DNSLink domain. */
function ipnsNameProblem(name: string, prefix: string): string | undefined {
  if (name === '' || name.includes('/')) return `is not ${prefix}NAME with one key name (k51…) or DNSLink domain`
  const cid = tryCid(name)
  if (cid) return cid.version === 0 || cid.code === libp2pKeyCode ? undefined : `names content, not a key: pull /ipfs/${name} instead`
  if (isPeerId(name) || dnsLinkDomain.test(name)) return undefined
  if (cidLike.test(name) || name.startsWith('12D3')) return `has "${name}", which starts like an IPNS key name but does not parse (truncated or mistyped?)`
  return `has "${name}", which is neither an IPNS key name (k51…) nor a DNSLink domain (example.com)`
}

export function parsePullRef(input: string): PullRef {
  const text = input.trim()
  if (text === '') throw new UsageError(`no image given: ${forms}`)
  for (const prefix of ['ipfs://', '/ipfs/']) {
    if (text.startsWith(prefix)) {
      const rest = text.slice(prefix.length).replace(/\/+$/, '')
      const cid = tryCid(rest)
      if (!cid) throw refuse(input, `has "${rest}" after ${prefix}, which is not a CID${cidLike.test(rest) ? ' (truncated or mistyped?)' : ''}`)
      return { kind: 'cid', cid }
    }
  }
  for (const prefix of ['ipns://', '/ipns/']) {
    if (text.startsWith(prefix)) {
      const name = text.slice(prefix.length).replace(/\/+$/, '')
      const problem = ipnsNameProblem(name, prefix)
      if (problem !== undefined) throw refuse(input, problem)
      return { kind: 'ipns', name }
    }
  }
  const cid = tryCid(text)
  if (cid) return { kind: 'cid', cid }
  try {
    return { kind: 'ref', ref: parseTaggedReference(text).text }
  } catch (err) {
    if (!(err instanceof ReferenceError)) throw err
    // A truncated CID is often still a valid name (lowercase base32), so its shape decides first.
    if (cidLike.test(text)) throw refuse(input, 'starts like a CID but does not parse as one (truncated or mistyped?)')
    throw refuse(input, `is neither a CID nor an image reference: ${err.problem}`)
  }
}
