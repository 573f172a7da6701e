import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { gzipSync } from 'node:zlib'
import { IntegrityError, IpcrError } from '../../src/errors.js'
import {
  ChunkDigestMismatchError, EstargzReader, InvalidLayerError, NotEstargzError, TocDigestMismatchError,
  TruncatedBlobError, UnsupportedTarEntryError, bytesSource, convertLayerToEstargz, verifyEstargz, writeEstargzFile,
  type EstargzResult,
} from '../../src/estargz/index.js'
import { goCheck, checkerBinary } from '../estargz-check/checker.js'
import { bytes, tarOf as tarOfEntries, type FixtureEntry } from '../estargz-check/fixture.js'

const mtime = new Date('2023-01-02T03:04:05Z')
const tarOf = (entries: FixtureEntry[]) => tarOfEntries(entries.map((e) => ({ ...e, header: { mtime, ...e.header } })))

let dir: string
let tarPath: string
let blob: Buffer
let result: EstargzResult

const oneLine = (err: unknown) => {
  expect(err).toBeInstanceOf(IpcrError)
  expect((err as Error).message).not.toContain('\n')
  return err as IpcrError
}

async function caught(p: Promise<unknown>): Promise<IpcrError> {
  try {
    await p
  } catch (err) {
    return oneLine(err)
  }
  throw new Error('expected a rejection')
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ipcr-estargz-bad-'))
  tarPath = join(dir, 'layer.tar')
  await writeFile(tarPath, await tarOf([
    { header: { name: 'a.txt', type: 'file', mode: 0o644 }, content: Buffer.from('alpha\n') },
    { header: { name: 'big.bin', type: 'file', mode: 0o644 }, content: bytes(6 << 20, 'big') },
    { header: { name: 'z.txt', type: 'file', mode: 0o644 }, content: Buffer.from('zulu\n') },
  ]))
  const out = join(dir, 'ok.esgz')
  result = await writeEstargzFile({ tarFile: tarPath }, out)
  blob = await readFile(out)
  await checkerBinary()
})

afterAll(async () => {
  await rm(dir, { recursive: true, force: true })
})

describe('eStargz verification rejects damaged blobs', () => {
  it('names the file whose chunk has one flipped byte, and still reads the others', async () => {
    const reader = await EstargzReader.open(bytesSource(blob), { tocDigest: result.tocDigest })
    const second = reader.file('big.bin').chunks[1]!
    const bad = Buffer.from(blob)
    const at = second.offset + Math.floor((second.nextOffset - second.offset) / 2)
    bad[at] = bad[at]! ^ 0x01

    const r = await EstargzReader.open(bytesSource(bad), { tocDigest: result.tocDigest })
    const err = await caught(r.readFile('big.bin'))
    expect(err).toBeInstanceOf(ChunkDigestMismatchError)
    expect(err).toBeInstanceOf(IntegrityError)
    expect(err.message).toMatch(/^big\.bin: chunk at file offset 4194304/)
    expect((await r.readFile('a.txt')).toString()).toBe('alpha\n')
    expect((await r.readFile('big.bin', 0, 100)).length).toBe(100) // the first chunk is intact

    const v = await caught(verifyEstargz(bytesSource(bad), { tocDigest: result.tocDigest }))
    expect(v).toBeInstanceOf(ChunkDigestMismatchError)
    expect(v.message).toContain('big.bin')

    const path = join(dir, 'flipped.esgz')
    await writeFile(path, bad)
    await expect(goCheck(path, tarPath, { tocDigest: result.tocDigest })).rejects.toThrow(/big\.bin/)
  })

  it('rejects a wrong TOC digest', async () => {
    const wrong = `sha256:${'0'.repeat(64)}`
    const err = await caught(verifyEstargz(bytesSource(blob), { tocDigest: wrong }))
    expect(err).toBeInstanceOf(TocDigestMismatchError)
    expect(err.message).toContain(result.tocDigest)
    expect(err.message).toContain(wrong)
    const path = join(dir, 'ok2.esgz')
    await writeFile(path, blob)
    await expect(goCheck(path, tarPath, { tocDigest: wrong })).rejects.toThrow(/verify TOC/)
  })

  it('rejects a truncated blob', async () => {
    for (const cut of [1, 100, blob.length >> 1]) {
      const short = blob.subarray(0, blob.length - cut)
      const err = await caught(verifyEstargz(bytesSource(short), { tocDigest: result.tocDigest }))
      expect(err, `cut ${cut}`).toBeInstanceOf(TruncatedBlobError)
      expect(err.message).toMatch(/truncated/)
    }
    const err = await caught(verifyEstargz(bytesSource(blob.subarray(0, 1000)), { tocDigest: result.tocDigest, size: blob.length }))
    expect(err.message).toBe(`eStargz blob is truncated: 1000 bytes, expected ${blob.length}`)
  })

  it('rejects a gzip layer that is not eStargz, and bytes that are not gzip', async () => {
    const plain = gzipSync(await readFile(tarPath))
    const err = await caught(verifyEstargz(bytesSource(plain), { tocDigest: result.tocDigest }))
    expect(err).toBeInstanceOf(NotEstargzError)
    expect(err.message).toMatch(/not an eStargz blob: a gzip stream without the eStargz footer/)
    const junk = await caught(EstargzReader.open(bytesSource(Buffer.from('hello world'))))
    expect(junk).toBeInstanceOf(NotEstargzError)
    expect(junk.message).toMatch(/not gzip/)
    const path = join(dir, 'plain.tgz')
    await writeFile(path, plain)
    await expect(goCheck(path, tarPath)).rejects.toThrow(/open eStargz/)
  })

  it('rejects a TOC offset outside the blob', async () => {
    const bad = Buffer.from(blob)
    bad.write('0000ffffffff0000', bad.length - 51 + 16, 'latin1')
    const err = await caught(EstargzReader.open(bytesSource(bad)))
    expect(err).toBeInstanceOf(IntegrityError)
    expect(err.message).toMatch(/outside the \d+-byte blob/)
  })

  it('the Go checker notices content that differs from the source tar', async () => {
    const other = join(dir, 'other.tar')
    await writeFile(other, await tarOf([
      { header: { name: 'a.txt', type: 'file', mode: 0o644 }, content: Buffer.from('ALPHA\n') },
      { header: { name: 'big.bin', type: 'file', mode: 0o644 }, content: bytes(6 << 20, 'big') },
      { header: { name: 'z.txt', type: 'file', mode: 0o644 }, content: Buffer.from('zulu\n') },
    ]))
    const path = join(dir, 'ok3.esgz')
    await writeFile(path, blob)
    await expect(goCheck(path, other)).rejects.toThrow(/"a.txt": TOC digest/)
  })
})

describe('the eStargz writer rejects bad layers with one-line typed errors', () => {
  const convert = (bytes: Buffer) => convertLayerToEstargz((async function* () { yield bytes })(), {}, dir)

  it('not a tar', async () => {
    const err = await caught(convert(Buffer.alloc(2048, 0x41)))
    expect(err).toBeInstanceOf(InvalidLayerError)
    expect(err.message).toBe('not a tar archive (bad header checksum at offset 0)')
  })

  it('a truncated gzip layer', async () => {
    const gz = gzipSync(await readFile(tarPath))
    const err = await caught(convert(gz.subarray(0, gz.length >> 1)))
    expect(err).toBeInstanceOf(InvalidLayerError)
    expect(err.message).toBe('layer gzip stream is truncated')
  })

  it('a truncated tar', async () => {
    const t = await readFile(tarPath)
    const err = await caught(convert(t.subarray(0, 3000)))
    expect(err).toBeInstanceOf(InvalidLayerError)
    expect(err.message).toMatch(/^tar archive is truncated in big\.bin/)
  })

  it('an unsupported entry type', async () => {
    // A PAX global header, as `git archive` writes: tar-stream cannot, so retype a plain entry.
    const t = await tarOf([
      { header: { name: 'pax_global_header', type: 'file' }, content: Buffer.from('18 comment=hello\n') },
      { header: { name: 'a', type: 'file' }, content: Buffer.from('a') },
    ])
    t[156] = 'g'.charCodeAt(0)
    t.fill(0x20, 148, 156)
    let sum = 0
    for (let i = 0; i < 512; i++) sum += t[i]!
    t.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'latin1')
    const err = await caught(convert(t))
    expect(err).toBeInstanceOf(UnsupportedTarEntryError)
    expect(err.message).toBe('unsupported tar entry: pax_global_header is a PAX global header')
  })

  it('zstd layers', async () => {
    const err = await caught(convert(Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0, 0, 0, 0])))
    expect(err).toBeInstanceOf(InvalidLayerError)
    expect(err.message).toMatch(/zstd/)
  })
})
