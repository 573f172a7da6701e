import { describe, expect, it } from 'vitest'
import { formatSwarmKey, newSwarmKey, parseSwarmKey } from '../../src/ipfs/swarm-key.js'
import { UsageError } from '../../src/errors.js'

describe('swarm.key (libp2p pnet PSK v1, as kubo reads it)', () => {
  it('writes the three-line base16 format kubo and ipfs-swarm-key-gen use', () => {
    const key = Buffer.alloc(32, 0xab)
    expect(formatSwarmKey(key)).toBe(`/key/swarm/psk/1.0.0/\n/base16/\n${'ab'.repeat(32)}\n`)
  })

  it('makes a different 32-byte key each time, which parses back', () => {
    const a = newSwarmKey()
    const b = newSwarmKey()
    expect(a).toMatch(/^\/key\/swarm\/psk\/1\.0\.0\/\n\/base16\/\n[0-9a-f]{64}\n$/)
    expect(a).not.toBe(b)
    expect(Buffer.from(parseSwarmKey(a)).toString('hex')).toBe(a.split('\n')[2])
  })

  it('reads the base64 and bin encodings and CRLF line ends, as go-libp2p does', () => {
    const key = Buffer.from(Array.from({ length: 32 }, (_, i) => i))
    expect(Buffer.from(parseSwarmKey(`/key/swarm/psk/1.0.0/\r\n/base64/\r\n${key.toString('base64')}\r\n`))).toEqual(key)
    expect(Buffer.from(parseSwarmKey(Buffer.concat([Buffer.from('/key/swarm/psk/1.0.0/\n/bin/\n'), key])))).toEqual(key)
  })

  it('refuses what is not a 32-byte key', () => {
    for (const bad of [
      '', 'hello', `/key/swarm/psk/1.0.0/\n/base16/\n${'ab'.repeat(31)}\n`, `/key/swarm/psk/1.0.0/\n/base16/\n${'zz'.repeat(32)}\n`,
      `/key/swarm/psk/1.0.0/\n/base58/\n${'ab'.repeat(32)}\n`, `/key/swarm/psk/2.0.0/\n/base16/\n${'ab'.repeat(32)}\n`,
    ]) {
      expect(() => parseSwarmKey(bad), bad).toThrow(UsageError)
    }
    expect(() => formatSwarmKey(Buffer.alloc(16))).toThrow(UsageError)
  })
})
