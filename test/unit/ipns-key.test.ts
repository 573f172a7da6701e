import { describe, expect, it } from 'vitest'
import { createHash, sign, verify, createPublicKey } from 'node:crypto'
import { deriveKey, ipnsNameForRef, pkcs8Pem } from '../../src/ipfs/ipns-key.js'

describe('per-reference IPNS keys', () => {
  it('derives an Ed25519 key whose seed is SHA-256 of the reference as typed', () => {
    const k = deriveKey('ghcr.io/org/app:1.0')
    expect(k.pkcs8.subarray(-32).toString('hex')).toBe(createHash('sha256').update('ghcr.io/org/app:1.0').digest('hex'))
    const sig = sign(null, Buffer.from('x'), k.privateKey)
    expect(verify(null, Buffer.from('x'), createPublicKey(k.privateKey), sig)).toBe(true)
    expect(pkcs8Pem(k)).toMatch(/^-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEI/)
  })

  it('gives a base36 libp2p-key name, stable per reference and different between references', () => {
    const a = ipnsNameForRef('ghcr.io/org/app:1.0')
    expect(a).toMatch(/^k51qzi5uqu5d[a-z0-9]+$/)
    expect(ipnsNameForRef('ghcr.io/org/app:1.0')).toBe(a)
    expect(ipnsNameForRef('ghcr.io/org/app:1.1')).not.toBe(a)
    // No normalisation: a reference is used exactly as typed.
    expect(ipnsNameForRef('docker.io/library/alpine:3')).not.toBe(ipnsNameForRef('alpine:3'))
  })
})
