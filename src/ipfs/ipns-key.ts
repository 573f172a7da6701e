import { createHash, createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto'
import { CID } from 'multiformats/cid'
import { base36 } from 'multiformats/bases/base36'
import { identity } from 'multiformats/hashes/identity'

/** PKCS#8 DER header of an Ed25519 private key; the 32-byte seed follows (RFC 8410). */
const pkcs8Ed25519Prefix = Buffer.from('302e020100300506032b657004220420', 'hex')
/** libp2p's multicodec for a CID naming a public key. */
export const libp2pKeyCode = 0x72

/**
 * The key an image reference is published under (the stargz-snapshotter "pull images by ref"
 * proposal): an Ed25519 key whose seed is SHA-256 of the reference exactly as typed. Anyone who
 * knows the reference can derive it: this gives discovery, not authenticity.
 */
export interface DerivedKey {
  ref: string
  privateKey: KeyObject
  /** 32 raw public key bytes. */
  publicKey: Uint8Array
  /** PKCS#8 DER, as kubo's key/import takes it (format=pem-pkcs8-cleartext, PEM-wrapped). */
  pkcs8: Buffer
}

export function deriveKey(ref: string): DerivedKey {
  const seed = createHash('sha256').update(ref, 'utf8').digest()
  const pkcs8 = Buffer.concat([pkcs8Ed25519Prefix, seed])
  const privateKey = createPrivateKey({ key: pkcs8, format: 'der', type: 'pkcs8' })
  const spki = createPublicKey(privateKey).export({ format: 'der', type: 'spki' })
  return { ref, privateKey, publicKey: spki.subarray(spki.length - 32), pkcs8 }
}

export function pkcs8Pem(key: DerivedKey): string {
  const b64 = key.pkcs8.toString('base64').replace(/(.{64})/g, '$1\n').trim()
  return `-----BEGIN PRIVATE KEY-----\n${b64}\n-----END PRIVATE KEY-----\n`
}

/** libp2p's protobuf PublicKey { Type = Ed25519 (1), Data = key }. */
export function libp2pPublicKey(publicKey: Uint8Array): Uint8Array {
  return Buffer.concat([Buffer.from([0x08, 0x01, 0x12, publicKey.length]), publicKey])
}

/** The IPNS name of a public key: a CIDv1 (libp2p-key, identity multihash) in base36, `k51…`. */
export function ipnsNameOf(publicKey: Uint8Array): string {
  return CID.createV1(libp2pKeyCode, identity.digest(libp2pPublicKey(publicKey))).toString(base36)
}

/** The IPNS name a reference is published under, computed with no private key imported anywhere. */
export function ipnsNameForRef(ref: string): string {
  return ipnsNameOf(deriveKey(ref).publicKey)
}
