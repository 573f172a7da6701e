import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createHash } from 'node:crypto'
import { gunzipSync, gzipSync } from 'node:zlib'
import {
  EstargzReader, bytesSource, cleanEntryName, convertLayerToEstargz, estargzStream, marshalToc, parseToc,
  verifyEstargz, writeEstargzFile, NO_PREFETCH_LANDMARK, PREFETCH_LANDMARK, TOC_TAR_NAME, type Toc, type TocEntry,
} from '../../src/estargz/index.js'
import { goBuild, goCheck, checkerBinary } from '../estargz-check/checker.js'
import { allKinds, bytes, tarOf, type FixtureEntry } from '../estargz-check/fixture.js'
import { ustarRegularHeader } from '../../src/estargz/tar.js'

let dir: string
let fixture: FixtureEntry[]
let tarPath: string
let tarBytes: Buffer

/** The file contents a reader must return, by cleaned name (later duplicates win, hard links resolve). */
function expectedFiles(entries: readonly FixtureEntry[]): Map<string, Buffer> {
  const byName = new Map<string, FixtureEntry>()
  for (const e of entries) byName.set(cleanEntryName(e.header.name), e)
  const out = new Map<string, Buffer>()
  for (const [name, e] of byName) {
    if (e.header.type === 'file') out.set(name, e.content!)
    if (e.header.type === 'link') out.set(name, byName.get(cleanEntryName(e.header.linkname!))!.content!)
  }
  return out
}

function tocOf(blob: Buffer): { json: Buffer; toc: Toc } {
  const tar = gunzipSync(blob)
  // The TOC is the last entry: find its header from the end (payload, padding, two zero blocks).
  let at = tar.length - 1024
  for (let p = at - 512; p >= 0; p -= 512) {
    if (tar.toString('utf8', p, p + TOC_TAR_NAME.length) === TOC_TAR_NAME && tar[p + TOC_TAR_NAME.length] === 0) {
      at = p
      break
    }
  }
  const size = Number.parseInt(tar.toString('latin1', at + 124, at + 135), 8)
  const json = tar.subarray(at + 512, at + 512 + size)
  return { json, toc: parseToc(json) }
}

const withoutOffsets = (entries: TocEntry[]) => entries.map(({ offset: _o, ...rest }) => rest)

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ipcr-estargz-'))
  fixture = allKinds()
  tarBytes = await tarOf(fixture)
  tarPath = join(dir, 'layer.tar')
  await writeFile(tarPath, tarBytes)
  await checkerBinary()
})

afterAll(async () => {
  await rm(dir, { recursive: true, force: true })
})

describe('eStargz writer against the Go reference', () => {
  it('writes a blob the Go package opens, verifies and matches entry by entry with the source tar', async () => {
    const out = join(dir, 'ours.esgz')
    const r = await writeEstargzFile({ tarFile: tarPath }, out)
    const blob = await readFile(out)
    expect(r.compressedSize).toBe(blob.length)
    expect(r.digest).toBe(`sha256:${createHash('sha256').update(blob).digest('hex')}`)
    const summary = await goCheck(out, tarPath, { tocDigest: r.tocDigest, diffId: r.diffId })
    expect(summary).toMatchObject({ ok: true, tocDigest: r.tocDigest, diffId: r.diffId, uncompressedSize: r.uncompressedSize, firstEntry: NO_PREFETCH_LANDMARK })
    expect(gunzipSync(blob).length).toBe(r.uncompressedSize)
  })

  it('gives the same TOC as Go (offsets aside) and the same tar stream layout', async () => {
    const ours = join(dir, 'ours-cmp.esgz')
    const theirs = join(dir, 'go-cmp.esgz')
    await writeEstargzFile({ tarFile: tarPath }, ours, { parts: 1 }) // Go in one part, below
    await goBuild(tarPath, theirs, { parallelism: 1 })
    const a = tocOf(await readFile(ours)).toc
    const b = tocOf(await readFile(theirs)).toc
    expect(withoutOffsets(a.entries)).toEqual(withoutOffsets(b.entries))
    // The names the brief cares about, in Go's order: landmark first, later duplicate last.
    const names = a.entries.filter((e) => e.type !== 'chunk').map((e) => e.name)
    expect(names[0]).toBe(NO_PREFETCH_LANDMARK)
    expect(names.at(-1)).toBe('./d/dup')
    expect(names).not.toContain('d/dup')
    // Chunking: exactly 4 MiB carries chunkSize, 4 MiB + 1 has a final short chunk without it.
    const four = a.entries.filter((e) => e.name === 'd/four')
    expect(four).toMatchObject([{ type: 'reg', size: 4 << 20, chunkSize: 4 << 20 }])
    const plus = a.entries.filter((e) => e.name === 'd/fourplus')
    expect(plus.map((e) => [e.type, e.chunkOffset, e.chunkSize])).toEqual([['reg', undefined, 4 << 20], ['chunk', 4 << 20, undefined]])
    expect(a.entries.filter((e) => e.name === 'd/nine').length).toBe(3)
  })

  it('writes the very blob Go writes from the same tar, at levels 9, 6, 1, 0 and -2, in 1, 2, 3 and 7 parts', async () => {
    // Issue 18's inputs: an empty file, one byte, one byte repeated, random bytes, a file over the
    // chunk size and long compressible text, in a tar whose headers are already in Go's layout (the
    // re-encoding is go-tar-header.test.ts's), so that here only the compressor can differ.
    const owned = (h: Buffer, user: string) => {
      // Owner names, which Go's Writer writes into the TOC once per run of equal ones and per part.
      h.write(user, 265, 'latin1')
      h.write(user, 297, 'latin1')
      h.fill(0x20, 148, 156)
      let sum = 0
      for (const c of h) sum += c
      h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'latin1')
      return h
    }
    const file = (name: string, body: Buffer, user = 'root') => [owned(ustarRegularHeader(name, body.length), user), body, Buffer.alloc((512 - (body.length % 512)) % 512)]
    const words = Array.from({ length: 40000 }, (_, i) => `line ${i} ${'abcdefgh'.repeat(i % 7)} ${(i * 7919) % 1000}\n`).join('')
    const goTar = join(dir, 'go-shaped.tar')
    await writeFile(goTar, Buffer.concat([
      ...file('a.txt', Buffer.from(words.slice(0, 10000))),
      ...file('empty', Buffer.alloc(0)),
      ...file('one', Buffer.from('x')),
      ...file('repeated', Buffer.alloc((1 << 20) + 4321, 0x61)),
      ...file('noise.bin', bytes(300 << 10, 'noise')),
      ...file('big.txt', Buffer.from(words.repeat(3)).subarray(0, (2 << 20) + 12345)),
      ...file('after.txt', Buffer.from(words.slice(0, 70000))),
      ...file('other.txt', Buffer.from(words.slice(5000, 9000)), 'daemon'),
      ...file('last.txt', Buffer.from(words.slice(7000, 90000))),
      Buffer.alloc(1024),
    ]))
    for (const level of [9, 6, 1, 0, -2]) {
      const ours = join(dir, `ours-bytes${level}.esgz`)
      const theirs = join(dir, `go-bytes${level}.esgz`)
      const r = await writeEstargzFile({ tarFile: goTar }, ours, { level, chunkSize: 1 << 20, parts: 1 })
      const g = await goBuild(goTar, theirs, { parallelism: 1, level, chunkSize: 1 << 20 })
      expect({ level, diffId: r.diffId, digest: r.digest, tocDigest: r.tocDigest }).toEqual({ level, diffId: g.diffId, digest: g.digest, tocDigest: g.tocDigest })
      // Pinned as well: Go's bytes for this tar must not move, whatever the Go module or Node does.
      if (level === 9) {
        expect([r.digest, r.tocDigest]).toEqual([
          'sha256:b214f3ea36752e906b29bd8562a99aa9af519225af488f150d872b62e2ab334a',
          'sha256:e937eb0d86dbdad6cc30ff6040c77e063f4ae57af5fa9ad28c4ac40744c60764',
        ])
      }
    }
    // Go cuts the layer into one part per core, each starting a gzip member of its own.
    for (const parts of [2, 3, 7]) {
      const r = await writeEstargzFile({ tarFile: goTar }, join(dir, `ours-parts${parts}.esgz`), { chunkSize: 1 << 20, parts })
      const g = await goBuild(goTar, join(dir, `go-parts${parts}.esgz`), { parallelism: parts, chunkSize: 1 << 20 })
      expect({ parts, digest: r.digest, tocDigest: r.tocDigest }).toEqual({ parts, digest: g.digest, tocDigest: g.tocDigest })
    }
    // The zlib compressor's blob is still one Go reads and verifies; only its bytes are zlib's.
    const z = await writeEstargzFile({ tarFile: tarPath }, join(dir, 'ours-zlib.esgz'), { compressor: 'zlib' })
    expect(await goCheck(join(dir, 'ours-zlib.esgz'), tarPath, { tocDigest: z.tocDigest, diffId: z.diffId })).toMatchObject({ ok: true })
  })

  it('writes TOC JSON byte-identical to Go json.MarshalIndent (re-marshalled Go TOC)', async () => {
    const theirs = join(dir, 'go-json.esgz')
    await goBuild(tarPath, theirs)
    const { json, toc } = tocOf(await readFile(theirs))
    expect(marshalToc(toc).equals(json)).toBe(true)
    expect(json.toString()).toContain('html\\u003c\\u0026\\u003e')
  })

  it('puts prioritized files first (parents and hard-link targets before them), then .prefetch.landmark, as Go does', async () => {
    const prioritized = ['/d/nine', 'd/hard', './dev/null']
    const ours = join(dir, 'ours-prio.esgz')
    const theirs = join(dir, 'go-prio.esgz')
    const r = await writeEstargzFile({ tarFile: tarPath }, ours, { prioritizedFiles: prioritized, parts: 1 })
    await goBuild(tarPath, theirs, { parallelism: 1, prioritized })
    const a = tocOf(await readFile(ours)).toc.entries.filter((e) => e.type !== 'chunk').map((e) => e.name)
    const b = tocOf(await readFile(theirs)).toc.entries.filter((e) => e.type !== 'chunk').map((e) => e.name)
    expect(a).toEqual(b)
    expect(a.slice(0, 7)).toEqual(['./', 'd/', 'd/nine', 'd/one', 'd/hard', 'dev/', 'dev/null'])
    expect(a[7]).toBe(PREFETCH_LANDMARK)
    await goCheck(ours, tarPath, { tocDigest: r.tocDigest })
  })

  it('refuses a prioritized file the layer lacks, or records it when allowed', async () => {
    await expect(writeEstargzFile({ tarFile: tarPath }, join(dir, 'x.esgz'), { prioritizedFiles: ['nope'] })).rejects.toThrow(/prioritized file "nope"/)
    const r = await writeEstargzFile({ tarFile: tarPath }, join(dir, 'x.esgz'), { prioritizedFiles: ['nope', 'd/one'], allowMissingPrioritized: true })
    expect(r.missedPrioritized).toEqual(['nope'])
  })

  it('honours chunk size and level, and converts a gzip layer stream to the same tar stream', async () => {
    const plain = join(dir, 'small-chunks.esgz')
    const r1 = await writeEstargzFile({ tarFile: tarPath }, plain, { chunkSize: 1 << 20, level: 1 })
    await goCheck(plain, tarPath, { tocDigest: r1.tocDigest, diffId: r1.diffId })
    const toc = tocOf(await readFile(plain)).toc
    expect(toc.entries.filter((e) => e.name === 'd/nine').length).toBe(10)

    const gz = gzipSync(tarBytes)
    const converted = await convertLayerToEstargz((async function* () {
      for (let i = 0; i < gz.length; i += 100_000) yield gz.subarray(i, i + 100_000)
    })(), {}, dir)
    const again = await writeEstargzFile({ tarFile: tarPath }, join(dir, 'again.esgz'))
    expect(converted).toMatchObject({ diffId: again.diffId, tocDigest: again.tocDigest, digest: again.digest, size: again.compressedSize })
    await goCheck(converted.path, tarPath, { tocDigest: converted.tocDigest, diffId: converted.diffId })
  })

  it('streams the blob through estargzStream with the same result', async () => {
    const { stream, result } = estargzStream({ tarFile: tarPath })
    const parts: Buffer[] = []
    for await (const c of stream) parts.push(c as Buffer)
    const r = await result
    const blob = Buffer.concat(parts)
    expect(blob.length).toBe(r.compressedSize)
    await verifyEstargz(bytesSource(blob), { tocDigest: r.tocDigest })
  })

  it('handles an empty layer (landmark only)', async () => {
    const empty = join(dir, 'empty.tar')
    await writeFile(empty, await tarOf([]))
    const out = join(dir, 'empty.esgz')
    const r = await writeEstargzFile({ tarFile: empty }, out)
    await goCheck(out, empty, { tocDigest: r.tocDigest, diffId: r.diffId })
    const reader = await EstargzReader.open(bytesSource(await readFile(out)), { tocDigest: r.tocDigest })
    expect(reader.toc.entries.map((e) => e.name)).toEqual([NO_PREFETCH_LANDMARK])
  })
})

describe('eStargz reader', () => {
  async function readAllBack(blob: Buffer, tocDigest: string) {
    const reader = await EstargzReader.open(bytesSource(blob), { tocDigest })
    for (const [name, content] of expectedFiles(fixture)) {
      const got = await reader.readFile(name)
      expect(got.equals(content), name).toBe(true)
    }
    return reader
  }

  it('reads every file of our blob back byte-identical, and any range', async () => {
    const out = join(dir, 'read.esgz')
    const r = await writeEstargzFile({ tarFile: tarPath }, out)
    const blob = await readFile(out)
    const reader = await readAllBack(blob, r.tocDigest)
    const nine = expectedFiles(fixture).get('d/nine')!
    for (const [off, len] of [[0, 10], [(4 << 20) - 3, 7], [(8 << 20) - 1, (1 << 20) + 2], [nine.length - 5, 100]] as const) {
      expect((await reader.readFile('/d/nine', off, len)).equals(nine.subarray(off, off + len))).toBe(true)
    }
    expect(reader.lookup('d/hard')?.name).toBe('d/one')
    expect(reader.lookup('dev/null')).toMatchObject({ type: 'char', devMajor: 1, devMinor: 3, mode: 0o666 })
    expect(reader.lookup('d/one')?.xattrs).toEqual({ 'trusted.x': '', 'user.color': Buffer.from('blue').toString('base64') })
    expect(reader.lookup('d/')).toMatchObject({ type: 'dir', uid: 1000, userName: 'user', modtime: '2024-05-06T07:08:09Z' })
    expect(reader.lookup('d/html<&>')?.modtime).toBeUndefined()
    expect(reader.lookup('d/dup')?.mode).toBe(0o640)
    expect((await reader.readFile('d/dup')).toString()).toBe('second version wins\n')
  })

  it('reads and verifies a blob built by the Go writer', async () => {
    for (const parallelism of [1, 2]) {
      const out = join(dir, `go-read-${parallelism}.esgz`)
      const g = await goBuild(tarPath, out, { parallelism })
      const blob = await readFile(out)
      await readAllBack(blob, g.tocDigest)
      const report = await verifyEstargz(bytesSource(blob), { tocDigest: g.tocDigest, size: blob.length })
      expect(report.tocDigest).toBe(g.tocDigest)
      expect(report.chunks).toBeGreaterThanOrEqual(9)
    }
  })

  it('reads a Go blob built with MinChunkSize (several payloads per member, innerOffset)', async () => {
    const out = join(dir, 'go-min.esgz')
    const g = await goBuild(tarPath, out, { minChunkSize: 1 << 20 })
    const blob = await readFile(out)
    const { toc } = tocOf(blob)
    expect(toc.entries.some((e) => (e.innerOffset ?? 0) > 0)).toBe(true)
    await readAllBack(blob, g.tocDigest)
    await verifyEstargz(bytesSource(blob), { tocDigest: g.tocDigest })
  })

  it('reads a legacy 47-byte footer', async () => {
    const out = join(dir, 'legacy.esgz')
    const r = await writeEstargzFile({ tarFile: tarPath }, out)
    const blob = await readFile(out)
    const footer = blob.subarray(blob.length - 51)
    const tocOffset = footer.toString('latin1', 16, 32)
    const legacy = Buffer.alloc(47)
    legacy.set([0x1f, 0x8b, 0x08, 0x04, 0, 0, 0, 0, 0, 0xff, 22, 0])
    legacy.write(`${tocOffset}STARGZ`, 12, 'latin1')
    legacy.set([0x01, 0x00, 0x00, 0xff, 0xff], 34)
    const old = Buffer.concat([blob.subarray(0, blob.length - 51), legacy])
    await readAllBack(old, r.tocDigest)
  })

  it('ignores unknown TOC keys such as the old NumLink', () => {
    const toc = parseToc(Buffer.from('{"version":1,"entries":[{"name":"a","type":"reg","size":1,"NumLink":2,"offset":5}]}'))
    expect(toc.entries).toEqual([{ name: 'a', type: 'reg', size: 1, offset: 5 }])
  })
})
