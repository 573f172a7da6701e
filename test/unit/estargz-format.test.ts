import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { execFileSync } from 'node:child_process'
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { gunzipSync } from 'node:zlib'
import {
  EstargzReader, bytesSource, footerBytes, goIndent, parseFooter, writeEstargzFile, NO_PREFETCH_LANDMARK, TOC_TAR_NAME,
} from '../../src/estargz/index.js'
import { ustarRegularHeader } from '../../src/estargz/tar.js'
import { goBuild, goCheck, checkerBinary } from '../estargz-check/checker.js'

let dir: string

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ipcr-estargz-fmt-'))
  await checkerBinary()
})

afterAll(async () => {
  await rm(dir, { recursive: true, force: true })
})

/** A tar header block of any type flag, checksummed. */
function rawHeader(name: string, size: number, flag: string): Buffer {
  const b = ustarRegularHeader(name, size)
  b[156] = flag.charCodeAt(0)
  b.fill(0x20, 148, 156)
  let sum = 0
  for (const c of b) sum += c
  b.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'latin1')
  return b
}

const pad = (b: Buffer) => Buffer.concat([b, Buffer.alloc((512 - (b.length % 512)) % 512)])

function paxRecord(key: string, value: Buffer): Buffer {
  const body = Buffer.concat([Buffer.from(` ${key}=`), value, Buffer.from('\n')])
  let len = body.length + 1
  while (String(len).length + body.length !== len) len = String(len).length + body.length
  return Buffer.concat([Buffer.from(String(len)), body])
}

describe('eStargz wire format', () => {
  it('writes the 51-byte footer of wire-format.md and parses it and the legacy one', () => {
    const f = footerBytes(0x1234abcd)
    expect(f.toString('hex')).toBe(
      '1f8b08040000000000ff1a00534716003030303030303030313233346162636453544152475a010000ffff0000000000000000',
    )
    expect(gunzipSync(f).length).toBe(0)
    expect(parseFooter(f)).toEqual({ tocOffset: 0x1234abcd, footerSize: 51 })
    const legacy = Buffer.concat([Buffer.from('1f8b08040000000000ff1600', 'hex'), Buffer.from('000000000000abcdSTARGZ'), Buffer.from('010000ffff0000000000000000', 'hex')])
    expect(legacy.length).toBe(47)
    expect(parseFooter(Buffer.concat([Buffer.alloc(10), legacy]))).toEqual({ tocOffset: 0xabcd, footerSize: 47 })
    expect(parseFooter(Buffer.alloc(51))).toBeUndefined()
  })

  it('indents JSON as Go json.MarshalIndent with tabs', () => {
    expect(goIndent('{"a":[],"b":{},"c":[1,{"d":"x,\\"]:"}],"e":{"f":null}}', '\t')).toBe(
      '{\n\t"a": [],\n\t"b": {},\n\t"c": [\n\t\t1,\n\t\t{\n\t\t\t"d": "x,\\"]:"\n\t\t}\n\t],\n\t"e": {\n\t\t"f": null\n\t}\n}',
    )
  })

  it('writes the landmark and TOC tar headers byte for byte as Go tar.Writer does', async () => {
    const t = join(dir, 'tiny.tar')
    await writeFile(t, Buffer.concat([pad(Buffer.concat([rawHeader('f', 2, '0'), Buffer.from('hi')])), Buffer.alloc(1024)]))
    const theirs = join(dir, 'tiny-go.esgz')
    await goBuild(t, theirs, { parallelism: 1 })
    const tar = gunzipSync(await readFile(theirs))
    expect(tar.subarray(0, 512).equals(ustarRegularHeader(NO_PREFETCH_LANDMARK, 1))).toBe(true)
    const at = tar.indexOf(Buffer.from(`${TOC_TAR_NAME}\0`))
    const size = Number.parseInt(tar.toString('latin1', at + 124, at + 135), 8)
    expect(tar.subarray(at, at + 512).equals(ustarRegularHeader(TOC_TAR_NAME, size))).toBe(true)
  })

  it('carries binary xattrs, PAX long names, uids and sub-second mtimes, and GNU long names and links', async () => {
    const cap = Buffer.from([0x01, 0x00, 0x00, 0x02, 0x00, 0x20, 0x00, 0x00, 0xff, 0xfe])
    const longName = `deep/${'x'.repeat(120)}/file`
    const pax = Buffer.concat([
      paxRecord('SCHILY.xattr.security.capability', cap),
      paxRecord('path', Buffer.from(longName)),
      paxRecord('uid', Buffer.from('3000000')),
      paxRecord('mtime', Buffer.from('1700000000.6')),
    ])
    const gnuName = `gnu/${'y'.repeat(130)}`
    const parts = [
      rawHeader('deep/', 0, '5'),
      rawHeader('PaxHeaders/f', pax.length, 'x'), pad(pax),
      rawHeader('f', 3, '0'), pad(Buffer.from('cap')),
      rawHeader('gnu/', 0, '5'),
      rawHeader('././@LongLink', gnuName.length + 1, 'L'), pad(Buffer.from(`${gnuName}\0`)),
      rawHeader('gnu/short', 5, '0'), pad(Buffer.from('hello')),
      rawHeader('././@LongLink', gnuName.length + 1, 'K'), pad(Buffer.from(`${gnuName}\0`)),
      rawHeader('gnu/sym', 0, '2'),
      Buffer.alloc(1024),
    ]
    const t = join(dir, 'ext.tar')
    await writeFile(t, Buffer.concat(parts))
    const out = join(dir, 'ext.esgz')
    const r = await writeEstargzFile({ tarFile: t }, out)
    await goCheck(out, t, { tocDigest: r.tocDigest, diffId: r.diffId })
    const reader = await EstargzReader.open(bytesSource(await readFile(out)), { tocDigest: r.tocDigest })
    expect(reader.lookup(longName)).toMatchObject({
      type: 'reg', uid: 3000000, modtime: '2023-11-14T22:13:21Z', xattrs: { 'security.capability': cap.toString('base64') },
    })
    expect((await reader.readFile(gnuName)).toString()).toBe('hello')
    expect(reader.lookup('gnu/sym')?.linkName).toBe(gnuName)
  })

  it('converts a GNU tar of a real directory tree', async () => {
    const root = join(dir, 'tree')
    await mkdir(join(root, 'a/b'), { recursive: true })
    await writeFile(join(root, 'a/b/c.txt'), 'c\n')
    await writeFile(join(root, `a/${'n'.repeat(140)}`), 'long\n')
    execFileSync('ln', ['-s', 'b/c.txt', join(root, 'a/sym')])
    execFileSync('ln', [join(root, 'a/b/c.txt'), join(root, 'a/hard')])
    const t = join(dir, 'gnu.tar')
    execFileSync('tar', ['-C', root, '--format=gnu', '-cf', t, '.'])
    const out = join(dir, 'gnu.esgz')
    const r = await writeEstargzFile({ tarFile: t }, out)
    await goCheck(out, t, { tocDigest: r.tocDigest, diffId: r.diffId })
  })
})
