import { describe, expect, it } from 'vitest'
import { goCompact, marshalRawObject, parseRawObject, rewriteConfigDiffIds } from '../../src/oci/go-raw-json.js'

const a = `sha256:${'a'.repeat(64)}`
const b = `sha256:${'b'.repeat(64)}`

describe("containerd's config rewrite (map[string]*json.RawMessage)", () => {
  it('sorts top-level keys, compacts raw values and escapes HTML inside strings only', () => {
    const raw = '{ "z": [1, 2.50, {"x": "<a> & b"}], "a" : "k\\u003c", "m": null }'
    expect(marshalRawObject(parseRawObject(raw))).toBe('{"a":"k\\u003c","m":null,"z":[1,2.50,{"x":"\\u003ca\\u003e \\u0026 b"}]}')
  })

  it('keeps number text and unusual escapes verbatim', () => {
    expect(goCompact('{"n": 1e+10, "s": "\\/x\\u00e9"}')).toBe('{"n":1e+10,"s":"\\/x\\u00e9"}')
  })

  it('lets a later duplicate key win', () => {
    expect(marshalRawObject(parseRawObject('{"k":1,"k":2}'))).toBe('{"k":2}')
  })

  it('rewrites diff_ids and drops the Docker v1 dummy Image ids', () => {
    const cfg = JSON.stringify({ os: 'linux', architecture: 'amd64', config: { Image: 'sha256:dummy', Cmd: ['/bin/sh'] }, container_config: { Image: 'x', Env: [] }, rootfs: { type: 'layers', diff_ids: [a] } }, null, 2)
    const out = rewriteConfigDiffIds(Buffer.from(cfg), new Map([[a, b]])).toString()
    expect(out).toBe(`{"architecture":"amd64","config":{"Cmd":["/bin/sh"]},"container_config":{"Env":[]},"os":"linux","rootfs":{"type":"layers","diff_ids":["${b}"]}}`)
  })
})
