/**
 * ipcr's port of Go's tar.Writer.WriteHeader (src/estargz/go-tar-header.ts) against Go itself.
 * The hashes are the first 8 bytes of the SHA-256 of the header blocks Go writes for the Header
 * its Reader returns, once (`once`) and round-tripped twice as estargz.Build does (`twice`),
 * captured with test/fixtures/go-tar (Go 1.26): `go run . < in.tar` on the same tars
 * (the testkit one written to a file with tarBuffer, the Python ones gunzipped from below).
 */
import { createHash } from 'node:crypto'
import { gunzipSync } from 'node:zlib'
import { describe, expect, it } from 'vitest'
import { UnsupportedTarEntryError } from '../../src/estargz/errors.js'
import { goWriteHeader } from '../../src/estargz/go-tar-header.js'
import { goEntryHeader, TarScanner, type TarEntry } from '../../src/estargz/tar.js'
import { tarBuffer, type TarEntry as KitEntry } from '../../src/testkit/tar.js'

function scan(tar: Buffer): TarEntry[] {
  const out: TarEntry[] = []
  const s = new TarScanner((e) => out.push(e))
  s.push(tar)
  s.finish()
  return out
}

const h8 = (b: Buffer): string => createHash('sha256').update(b).digest('hex').slice(0, 16)

/** name -> [length of the twice-written header, once, twice], as go-tar printed them. */
type Pinned = Record<string, [number, string, string]>

function expectGo(tar: Buffer, pinned: Pinned): void {
  const got: Pinned = {}
  for (const e of scan(tar)) {
    const twice = goEntryHeader(e.go)
    got[Buffer.from(e.go.name, 'latin1').toString('utf8')] = [twice.length, h8(goWriteHeader(e.go)), h8(twice)]
  }
  expect(got).toEqual(pinned)
}

const D = 'd'.repeat(60)
const E = 'e'.repeat(60)

// The testkit writes USTAR headers in its own layout (`000755 \0`, checksum `NNNNNN\0 `...), which
// Go's Reader takes as of unknown format, so Go chooses the format afresh: USTAR where it fits,
// PAX for xattrs, non-ASCII or unsplittable long names, big uids and long link targets.
const KIT: KitEntry[] = [
  { path: 'bin', type: 'dir' },
  { path: 'bin/sh', type: 'file', content: 'echo hi\n', mode: 0o755 },
  { path: 'bin/tsh', type: 'hardlink', target: 'bin/sh' },
  { path: 'bin/link', type: 'symlink', target: 'sh' },
  { path: 'etc/.wh.passwd', type: 'file', content: '' },
  { path: 'etc/caps', type: 'file', content: 'x', xattrs: { 'user.k': 'v', 'security.capability': 'cap' } },
  { path: `${D}/${E}/${'f'.repeat(90)}`, type: 'file', content: 'long' },
  { path: 'g'.repeat(120), type: 'file', content: 'nosplit' },
  { path: 'ünïcode/ñame', type: 'file', content: 'u', uid: 3000000 },
  { path: 'bin/longlink', type: 'symlink', target: 't/'.repeat(70) },
]

// Python 3.11 tarfile, PAX format: a sub-second mtime, a big uid with a non-ASCII uname, an xattr
// with a non-xattr record, a character device and a FIFO.
const PY_PAX =
  'H4sIAAAAAAACA+3Yy0rDQBQG4FnnKeYJJjOTuaxCBTcVXAiuXE6bqYbmIrmUvJUv4K4vZkotglKkSNLW/N8mTTYHejjnz4SFLLx5cN3cu8RXZBB879iVc2m/fu+eCy6FIrQjI2jrxlV9eTJNMqJ5k+Y+Fvbw/zOpAwLT8Oq6sG4XtV+WRUKGm3+j1PH554IIpaWylqv9/CtrCOWY/8E5jMCksUvI/8gg/89EaNoWrs//7XuxfQt2t2kSR/tO4DVgEvm/SJ/7pg9X4/f859/zP+qPBOPm/6yYYf+faf9r+XP/S+z/Uc5/mj7ezu/un1jnmqZibe0rto43gbB0Wea5L5r4xWdZiSz4t/t/1/h6wBon739ujdI4/40h8ZuwaLOMXFL/Bbeiz//omvp/+JDxeaK5lv6v0lU5dI3T598YLQg1mH8AAAAAAAAAgD/7AAATY8gAKAAA'
// Python 3.11 tarfile, GNU format: a ././@LongLink name and a long link target.
const PY_GNU =
  'H4sIAAAAAAACA+3VTQ6CMBRG0beUroD+0NKpc9mETojRYKKwfyEkJMTgrEDsPQwgncLlK3ShT/Wzbepbe5c0zGTtbmwM8/N0HmNlRNWygf7dXV5KSaaattePnQiyeP9j1JX3q/0PfwCxPjgfo/HjeeliaUUZ+k/uSgJZKw6w/85+739wos70n1ynj3NR4077ny79uf/f+2+W+z/Mf1mJclt8dJn3DwAAAAAAAAAAgP/yAWyRGDcAKAAA'

describe("Go's tar header encoding", () => {
  it('re-encodes the testkit USTAR layout as Go does (USTAR, PAX for what USTAR cannot hold)', async () => {
    expectGo(await tarBuffer(KIT), {
      'bin/': [512, '6d16350fedbce41e', '6d16350fedbce41e'],
      'bin/link': [512, '3be13e3f2614f5ce', '3be13e3f2614f5ce'],
      'bin/longlink': [1536, '4f72d9fcd613fb93', '4f72d9fcd613fb93'],
      'bin/sh': [512, 'c7381a3fa4bf6334', 'c7381a3fa4bf6334'],
      'bin/tsh': [512, '12fe5d4075a8313c', '12fe5d4075a8313c'],
      [`${D}/`]: [512, '9cb1d10bf62dae94', '9cb1d10bf62dae94'],
      [`${D}/${E}/`]: [512, 'c113ee38d7a377e2', 'c113ee38d7a377e2'],
      [`${D}/${E}/${'f'.repeat(90)}`]: [512, 'dddf075fc20de19f', 'dddf075fc20de19f'],
      'etc/': [512, '9ec5456a2cc70a4f', '9ec5456a2cc70a4f'],
      'etc/.wh.passwd': [512, '503f702d932d602e', '503f702d932d602e'],
      'etc/caps': [1536, 'ba1b9a796959791c', 'ba1b9a796959791c'],
      ['g'.repeat(120)]: [1536, 'bad8588000fb4169', 'bad8588000fb4169'],
      'ünïcode/': [1536, 'c0e5f52bfdd065ce', 'c0e5f52bfdd065ce'],
      'ünïcode/ñame': [1536, '93fe6f301620f594', '93fe6f301620f594'],
    })
  })

  it('writes the fields in Go layout: zero-padded octal, NUL-ended, checksum NUL space', async () => {
    const [dir] = scan(await tarBuffer([{ path: 'bin', type: 'dir' }]))
    const b = goEntryHeader(dir!.go)
    // The brief's example: the testkit's `000755 \0` becomes Go's `0000755\0`.
    expect(b.toString('latin1', 100, 136)).toBe('0000755\x000000000\x000000000\x0000000000000\x00')
    expect(b.toString('latin1', 154, 156)).toBe('\x00 ')
    expect(b.toString('latin1', 257, 265)).toBe('ustar\x0000')
    expect(b.toString('latin1', 329, 345)).toBe('0000000\x000000000\x00')
  })

  it('keeps PAX records (sorted, sub-second mtimes, other records) as Go does', () => {
    expectGo(gunzipSync(Buffer.from(PY_PAX, 'base64')), {
      'pax/subsecond': [1536, 'dc7585f4af9c8cc2', 'dc7585f4af9c8cc2'],
      'pax/biguid': [1536, 'c57a1775f4c7dc43', 'c57a1775f4c7dc43'],
      'pax/attrs': [1536, 'c826fe01dd6fc607', 'c826fe01dd6fc607'],
      'dev/null': [512, '36f525f912132efb', '36f525f912132efb'],
      fifo: [512, 'b07b926b3441dafc', 'b07b926b3441dafc'],
    })
  })

  it('keeps GNU input GNU, long names as ././@LongLink', () => {
    expectGo(gunzipSync(Buffer.from(PY_GNU, 'base64')), {
      [`gnu/${'l'.repeat(120)}`]: [1536, '8a700cae5f1b5096', '8a700cae5f1b5096'],
      'gnu/link': [1536, '69de902fc505dd7c', '69de902fc505dd7c'],
    })
  })

  it("refuses what Go's WriteHeader refuses, so the layer fails as estargz.Build fails on it", async () => {
    // Go: "archive/tar: cannot encode header: filename may not have trailing slash" for a
    // type '0' entry named `foo/` (checked with test/fixtures/go-tar and estargz-check build).
    const [file] = scan(await tarBuffer([{ path: 'foo', type: 'file', content: '' }]))
    expect(() => goEntryHeader({ ...file!.go, name: 'foo/' })).toThrow(UnsupportedTarEntryError)
  })
})
