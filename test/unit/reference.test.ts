import { describe, expect, it } from 'vitest'
import { UsageError } from '../../src/errors.js'
import { parseReference, parseTaggedReference, ReferenceError } from '../../src/oci/reference.js'

const sha256 = `sha256:${'a'.repeat(64)}`

/** The error a parse throws, so that its class and message can both be checked. */
function refusal(parse: () => unknown): ReferenceError {
  try {
    parse()
  } catch (err) {
    if (err instanceof ReferenceError) return err
    throw err
  }
  throw new Error('expected a ReferenceError')
}

describe('image references (distribution/reference grammar)', () => {
  it('splits domain, path, tag and digest, and keeps the text as typed', () => {
    expect(parseReference('alpine')).toEqual({ text: 'alpine', path: 'alpine' })
    expect(parseReference('alpine:3')).toEqual({ text: 'alpine:3', path: 'alpine', tag: '3' })
    // No normalisation: no docker.io, no library/, no :latest.
    expect(parseReference('library/alpine:3')).toEqual({ text: 'library/alpine:3', path: 'library/alpine', tag: '3' })
    expect(parseReference('docker.io/library/alpine:3')).toEqual({ text: 'docker.io/library/alpine:3', domain: 'docker.io', path: 'library/alpine', tag: '3' })
    expect(parseReference(`ghcr.io/org/app:1.0@${sha256}`)).toEqual({ text: `ghcr.io/org/app:1.0@${sha256}`, domain: 'ghcr.io', path: 'org/app', tag: '1.0', digest: sha256 })
    expect(parseReference(`app@${sha256}`)).toEqual({ text: `app@${sha256}`, path: 'app', digest: sha256 })
  })

  it('tells a registry port from a tag', () => {
    expect(parseReference('localhost:5000/app')).toEqual({ text: 'localhost:5000/app', domain: 'localhost:5000', path: 'app' })
    expect(parseReference('localhost:5000/app:1')).toMatchObject({ domain: 'localhost:5000', path: 'app', tag: '1' })
    // With no "/", the colon can only start a tag (as in the Go library).
    expect(parseReference('localhost:5000')).toEqual({ text: 'localhost:5000', path: 'localhost', tag: '5000' })
    expect(parseReference('[::1]:5000/a/b:c')).toMatchObject({ domain: '[::1]:5000', path: 'a/b', tag: 'c' })
    expect(parseReference('localhost/app:1')).toMatchObject({ domain: 'localhost', path: 'app' })
    // Upper case cannot be a path, so the first component is a registry (docker's rule).
    expect(parseReference('Registry/app:1')).toMatchObject({ domain: 'Registry', path: 'app' })
  })

  it('accepts every separator the grammar allows, and the longest names and tags', () => {
    for (const text of ['a.b/c_d/e__f/g-h/i---j:1', 'embedded.test/app:1', 'ipcr.test/single:1', 'a:_', 'a:A.b-C_9']) {
      expect(parseReference(text).text).toBe(text)
    }
    const name = `${'a'.repeat(127)}/${'b'.repeat(127)}`
    expect(name).toHaveLength(255)
    expect(parseReference(`${name}:${'t'.repeat(128)}`).path).toBe(name)
    expect(parseReference(`x@sha512:${'0'.repeat(128)}`).digest).toBe(`sha512:${'0'.repeat(128)}`)
  })

  it.each([
    ['', /empty/],
    ['../../etc/passwd', /"\.\." is neither a registry HOST\[:PORT\] nor a path component/],
    ['etc/../passwd:1', /"\.\." is not a path component/],
    ['BAD REF', /"BAD REF" is not a path component/],
    ['App:1', /repository path "App" must be lowercase/],
    ['ghcr.io/Org/app:1', /repository path "Org" must be lowercase/],
    ['a//b:1', /empty path component/],
    ['/app:1', /empty path component/],
    ['app/:1', /empty path component/],
    [':1', /no repository name/],
    ['a_:1', /"a_" is not a path component/],
    ['a___b:1', /"a___b" is not a path component/],
    ['a.-b:1', /"a.-b" is not a path component/],
    ['bafy!!!', /"bafy!!!" is not a path component/],
    ['exa_mple.com/app:1', /"exa_mple.com" is neither a registry HOST\[:PORT\] nor a path component/],
    ['host.com:port/app:1', /"host.com:port" is neither a registry/],
    ['app:', /tag "" must be/],
    ['app:.1', /tag "\.1" must be/],
    [`app:${'t'.repeat(129)}`, /tag "t+" must be/],
    [`${'a'.repeat(256)}:1`, /name is 256 characters long, more than 255/],
    [`${'a'.repeat(200)}.example.com/${'b'.repeat(60)}:1`, /more than 255/],
    ['app@sha256:abc', /"sha256:abc" is not a digest/],
    ['app@', /"" is not a digest/],
    [`app@sha256:${'a'.repeat(63)}`, /"sha256:a+" is not a digest|must be sha256: followed by 64 lowercase hex digits/],
    [`app@sha256:${'a'.repeat(65)}`, /must be sha256: followed by 64 lowercase hex digits/],
    [`app@sha256:${'A'.repeat(64)}`, /must be sha256: followed by 64 lowercase hex digits/],
    [`app@md5:${'a'.repeat(32)}`, /digest algorithm "md5" is not supported/],
    [`app@${sha256}@${sha256}`, /is not a digest/],
  ])('refuses %j, saying why', (text, why) => {
    const err = refusal(() => parseReference(text))
    expect(err).toBeInstanceOf(UsageError)
    expect(err.message).toMatch(why)
    expect(err.message.startsWith(`"${text}" is not an image reference: `)).toBe(true)
    expect(err.message).toMatch(/\(expected \[HOST\[:PORT\]\/\]PATH\[:TAG\]/)
    expect(err.message).not.toContain('\n')
  })
})

describe('references that name one image (a tag or a digest)', () => {
  it('accepts a tag, a digest or both', () => {
    expect(parseTaggedReference('example.com/app:1').tag).toBe('1')
    expect(parseTaggedReference(`example.com/app@${sha256}`).digest).toBe(sha256)
    expect(parseTaggedReference(`example.com/app:1@${sha256}`)).toMatchObject({ tag: '1', digest: sha256 })
  })

  it('refuses a bare name, naming the forms it takes', () => {
    for (const text of ['notacid', 'example.com/app', 'localhost:5000/app']) {
      const err = refusal(() => parseTaggedReference(text))
      expect(err.message).toBe(`"${text}" is not an image reference: a name alone names no image, it needs a tag or a digest (expected NAME:TAG or NAME@sha256:<64 hex digits>, e.g. ghcr.io/org/app:1.0)`)
    }
  })

  it('still refuses what the grammar refuses, before asking for a tag', () => {
    expect(refusal(() => parseTaggedReference('BAD REF')).problem).toMatch(/"BAD REF" is not a path component/)
  })
})
