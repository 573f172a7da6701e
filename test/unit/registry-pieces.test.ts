// The registry's small parts: the LRU behind its caches, Range parsing, and name parsing.
import { describe, expect, it } from 'vitest'
import { RegistryError } from '../../src/registry/errors.js'
import { parseManifestRef, parseRepository } from '../../src/registry/names.js'
import { requestedSpan } from '../../src/registry/range.js'
import { Lru } from '../../src/util/lru.js'

function code(f: () => unknown): string | undefined {
  try { f() } catch (err) { return err instanceof RegistryError ? err.code : `not a RegistryError: ${String(err)}` }
  return undefined
}

describe('Lru', () => {
  it('forgets the least recently used beyond its bound, and expired entries', () => {
    let now = 0
    const lru = new Lru<string, number>(2, () => now)
    lru.set('a', 1)
    lru.set('b', 2)
    expect(lru.get('a')).toBe(1) // a is now the most recent
    lru.set('c', 3)
    expect([lru.get('b'), lru.get('a'), lru.get('c'), lru.size]).toEqual([undefined, 1, 3, 2])
    lru.set('t', 4, 1000)
    now = 999
    expect(lru.get('t')).toBe(4)
    now = 1000
    expect(lru.get('t')).toBeUndefined()
    expect([...lru.valuesNewestFirst()]).toEqual([3]) // t expired and went, and pushed a out
  })
})

describe('requestedSpan', () => {
  it('reads one span, clips its end, ignores what it does not serve and refuses spans past the end', () => {
    expect(requestedSpan(undefined, 10)).toBeUndefined()
    expect(requestedSpan('bytes=0-4', 10)).toEqual({ start: 0, end: 5 })
    expect(requestedSpan('bytes=5-', 10)).toEqual({ start: 5, end: 10 })
    expect(requestedSpan('bytes=8-100', 10)).toEqual({ start: 8, end: 10 })
    expect(requestedSpan('bytes=-3', 10)).toEqual({ start: 7, end: 10 })
    expect(requestedSpan('bytes=-30', 10)).toEqual({ start: 0, end: 10 })
    expect(requestedSpan('bytes=0-1,4-5', 10)).toBeUndefined()
    expect(requestedSpan('items=0-1', 10)).toBeUndefined()
    expect(requestedSpan('bytes=5-2', 10)).toBeUndefined()
    expect(code(() => requestedSpan('bytes=10-', 10))).toBe('RANGE_INVALID')
    expect(code(() => requestedSpan('bytes=10-20', 10))).toBe('RANGE_INVALID')
    expect(code(() => requestedSpan('bytes=-0', 10))).toBe('RANGE_INVALID')
  })
})

describe('repository names', () => {
  const cid = 'bafkreie7754qk7fl56ebauawdgfuqqa3kdd7sotvuhsm6wbz3qin6ssw3a'
  it('tells ipfs/, ipns/ and references apart; under ?ns= every name is a reference', () => {
    expect(parseRepository(`ipfs/${cid}`, null).kind).toBe('cid')
    expect(parseRepository('ipns/k51abc', null).kind).toBe('ipns')
    expect(parseRepository('org/app', null)).toEqual({ kind: 'ref', name: 'org/app', base: 'org/app' })
    expect(parseRepository('org/app', 'ceo.test')).toEqual({ kind: 'ref', name: 'org/app', base: 'ceo.test/org/app' })
    expect(parseRepository(`ipfs/${cid}`, 'docker.io')).toMatchObject({ kind: 'ref', base: `docker.io/ipfs/${cid}` })
    expect(code(() => parseRepository('Org/app', null))).toBe('NAME_INVALID')
    expect(code(() => parseRepository('a//b', null))).toBe('NAME_INVALID')
    expect(code(() => parseRepository(`ipfs/${cid}/x`, null))).toBe('NAME_INVALID')
    expect(code(() => parseRepository('a'.repeat(256), null))).toBe('NAME_INVALID')
  })
  it('takes tags and sha256 digests; malformed digests are DIGEST_INVALID, other algorithms unknown', () => {
    expect(parseManifestRef('1.0')).toEqual({ kind: 'tag', tag: '1.0' })
    expect(parseManifestRef(`sha256:${'a'.repeat(64)}`)).toEqual({ kind: 'digest', digest: `sha256:${'a'.repeat(64)}` })
    expect(code(() => parseManifestRef('sha256:abc'))).toBe('DIGEST_INVALID')
    expect(code(() => parseManifestRef(`sha512:${'a'.repeat(128)}`))).toBe('MANIFEST_UNKNOWN')
    expect(code(() => parseManifestRef('-bad'))).toBe('MANIFEST_UNKNOWN')
  })
})
