import { describe, expect, it } from 'vitest'
import { goMarshal, goQuote, sortedMap } from '../../src/oci/go-json.js'
import { marshalManifest, parseManifest } from '../../src/oci/manifest.js'

describe('Go encoding/json compatibility', () => {
  it('escapes HTML characters, line separators and control characters as Go does', () => {
    expect(goQuote('a<b>&c')).toBe('"a\\u003cb\\u003e\\u0026c"')
    expect(goQuote('\u2028\u2029')).toBe('"\\u2028\\u2029"')
    expect(goQuote('\n\r\t\b\f\u0001\u001f"\\')).toBe('"\\n\\r\\t\\b\\f\\u0001\\u001f\\"\\\\"')
    expect(goQuote('é😀')).toBe('"é😀"')
    expect(goQuote('\ud800x')).toBe('"\ufffdx"')
  })

  it('sorts map keys by bytes and keeps struct order otherwise', () => {
    expect(goMarshal({ z: 1, a: sortedMap({ b: 'x', B: 'y', a: 'z' }) })).toBe('{"z":1,"a":{"B":"y","a":"z","b":"x"}}')
  })

  it('drops unknown fields and empty omitempty fields, keeps null layers', () => {
    const src = '{"schemaVersion":2,"extra":true,"config":{"mediaType":"m","size":1,"digest":"sha256:' + 'a'.repeat(64) + '","urls":[],"annotations":{}},"annotations":{"b":"1","a":"2"}}'
    expect(marshalManifest(parseManifest(Buffer.from(src)))).toBe(
      '{"schemaVersion":2,"config":{"mediaType":"m","digest":"sha256:' + 'a'.repeat(64) + '","size":1},"layers":null,"annotations":{"a":"2","b":"1"}}')
  })
})
