/**
 * Random access to an eStargz blob through its TOC: find the footer, fetch and check the TOC, then
 * read any byte range of any file by fetching only the gzip members that hold it, checking every
 * chunk against its chunkDigest before handing out a byte of it.
 */
import { createHash } from 'node:crypto'
import { promisify } from 'node:util'
import { gunzip as gunzipCb, gunzipSync, constants as zc } from 'node:zlib'
import type { Digest } from '../oci/digest.js'
import { FOOTER_SIZE, NO_PREFETCH_LANDMARK, PREFETCH_LANDMARK, TOC_TAR_NAME } from './constants.js'
import { ChunkDigestMismatchError, EstargzFormatError, NotEstargzError, TocDigestMismatchError, TruncatedBlobError } from './errors.js'
import { parseFooter } from './footer.js'
import type { RandomAccessSource } from './source.js'
import { BLOCK } from './tar.js'
import { cleanEntryName, parseToc, type Toc, type TocEntry } from './toc.js'
import { IntegrityError, NotFoundError, UsageError } from '../errors.js'

const gunzipAsync = promisify(gunzipCb)

/** One gzip-member-backed piece of a regular file. */
export interface Chunk {
  /** Offset of the chunk in the file, and its length. */
  chunkOffset: number
  chunkSize: number
  /** Compressed offset of the member holding it, where the next payload's member starts, and the chunk's offset inside the member's uncompressed bytes. */
  offset: number
  nextOffset: number
  innerOffset: number
  /** sha256 of the chunk; undefined only in blobs that never recorded one. */
  digest: string | undefined
}

export interface EstargzFile {
  /** The cleaned name: relative to the root, no `./`, no trailing slash ("" is the root). */
  name: string
  entry: TocEntry
  chunks: Chunk[]
}

export interface OpenOptions {
  /** Refuse the blob unless its TOC JSON has this digest (the manifest's toc.digest annotation). */
  tocDigest?: Digest | string
}

export class EstargzReader {
  private readonly byName = new Map<string, TocEntry>()
  private readonly chunksOf = new Map<string, Chunk[]>()
  private cache: { key: string; bytes: Buffer } | undefined

  private constructor(
    readonly source: RandomAccessSource,
    readonly toc: Toc,
    readonly tocDigest: Digest,
    readonly tocOffset: number,
    readonly footerSize: number,
  ) {
    this.index()
  }

  static async open(source: RandomAccessSource, opts: OpenOptions = {}): Promise<EstargzReader> {
    const size = source.size
    const tail = await source.read(Math.max(0, size - FOOTER_SIZE), Math.min(size, FOOTER_SIZE))
    const footer = parseFooter(tail)
    if (!footer) throw await missingFooter(source)
    const tocEnd = size - footer.footerSize
    if (footer.tocOffset >= tocEnd) {
      throw new TruncatedBlobError(`eStargz footer points at offset ${footer.tocOffset}, outside the ${size}-byte blob`)
    }
    const compressed = await source.read(footer.tocOffset, tocEnd - footer.tocOffset)
    const json = extractTocJson(compressed)
    const tocDigest: Digest = `sha256:${createHash('sha256').update(json).digest('hex')}`
    if (opts.tocDigest !== undefined && opts.tocDigest !== tocDigest) {
      throw new TocDigestMismatchError(`eStargz TOC digest is ${tocDigest}, expected ${opts.tocDigest}`)
    }
    return new EstargzReader(source, parseToc(json), tocDigest, footer.tocOffset, footer.footerSize)
  }

  /** Every non-chunk entry under its cleaned name (a later duplicate wins, as in Go's reader). */
  entries(): IterableIterator<[string, TocEntry]> {
    return this.byName.entries()
  }

  /** The entry for a path (absolute or relative to `/`), following hard links to their target. */
  lookup(path: string): TocEntry | undefined {
    let e = this.byName.get(cleanEntryName(path))
    const seen = new Set<string>()
    while (e && e.type === 'hardlink') {
      const target = cleanEntryName(e.linkName ?? '')
      if (seen.has(target)) return undefined
      seen.add(target)
      e = this.byName.get(target)
    }
    return e
  }

  /** A regular file's entry and chunk list (hard links resolved). */
  file(path: string): EstargzFile {
    const entry = this.lookup(path)
    if (!entry) throw new NotFoundError(`${path}: no such entry in the eStargz`)
    if (entry.type !== 'reg') throw new UsageError(`${path}: is a ${entry.type}, not a regular file`)
    const name = cleanEntryName(entry.name)
    return { name, entry, chunks: this.chunksOf.get(name) ?? [] }
  }

  /** Read `length` bytes (default: to the end) from `offset` of a regular file, verifying each chunk. */
  async readFile(path: string, offset = 0, length?: number): Promise<Buffer> {
    const f = this.file(path)
    const size = f.entry.size ?? 0
    const end = Math.min(size, length === undefined ? size : offset + length)
    if (offset < 0 || offset > size) throw new RangeError(`${path}: offset ${offset} outside the ${size}-byte file`)
    const parts: Buffer[] = []
    for (const c of f.chunks) {
      if (c.chunkOffset + c.chunkSize <= offset || c.chunkOffset >= end) continue
      const bytes = await this.readChunk(f.name, c)
      parts.push(bytes.subarray(Math.max(0, offset - c.chunkOffset), Math.min(c.chunkSize, end - c.chunkOffset)))
    }
    return parts.length === 1 ? parts[0]! : Buffer.concat(parts)
  }

  /** A file's bytes chunk by chunk, each verified. */
  async *streamFile(path: string): AsyncGenerator<Buffer> {
    const f = this.file(path)
    for (const c of f.chunks) yield await this.readChunk(f.name, c)
  }

  /** Fetch, decompress and verify one chunk (the last one read is kept for small sequential reads). */
  async readChunk(name: string, c: Chunk): Promise<Buffer> {
    const key = `${c.offset}:${c.innerOffset}`
    if (this.cache?.key === key) return this.cache.bytes
    if (c.offset + 10 > c.nextOffset || c.nextOffset > this.tocOffset) {
      throw new EstargzFormatError(`${name}: chunk at ${c.chunkOffset} has offsets ${c.offset}..${c.nextOffset} outside the payload area (0..${this.tocOffset})`)
    }
    const compressed = await this.source.read(c.offset, c.nextOffset - c.offset)
    let plain: Buffer
    try {
      // Only a prefix is needed; a member's trailing tar headers need not be checked here.
      plain = await gunzipAsync(compressed, { finishFlush: zc.Z_SYNC_FLUSH })
    } catch (err) {
      throw new ChunkDigestMismatchError(
        `${name}: chunk at file offset ${c.chunkOffset} (blob offset ${c.offset}) does not decompress: ${(err as Error).message}`,
        name, c.chunkOffset, { cause: err },
      )
    }
    const bytes = plain.subarray(c.innerOffset, c.innerOffset + c.chunkSize)
    if (bytes.length !== c.chunkSize) {
      throw new ChunkDigestMismatchError(`${name}: chunk at file offset ${c.chunkOffset} holds ${bytes.length} bytes, the TOC says ${c.chunkSize}`, name, c.chunkOffset)
    }
    if (c.digest === undefined) throw new EstargzFormatError(`${name}: chunk at file offset ${c.chunkOffset} has no digest to verify`)
    const got = `sha256:${createHash('sha256').update(bytes).digest('hex')}`
    if (got !== c.digest) {
      throw new ChunkDigestMismatchError(`${name}: chunk at file offset ${c.chunkOffset} has digest ${got}, TOC says ${c.digest}`, name, c.chunkOffset)
    }
    this.cache = { key, bytes }
    return bytes
  }

  /** Build the name index and chunk lists as Go's Reader.initFields does. */
  private index(): void {
    const entries = this.toc.entries
    const uname = new Map<number, string>()
    const gname = new Map<number, string>()
    let lastName = ''
    let lastReg: TocEntry | undefined
    const pending: { name: string; e: TocEntry; chunk: Chunk }[] = []
    for (const e of entries) {
      if (e.type === 'chunk') {
        if (!lastReg) throw new EstargzFormatError(`malformed TOC: chunk entry before any regular file`)
        pending.push({ name: lastName, e, chunk: this.chunk(e, lastReg) })
        continue
      }
      const name = cleanEntryName(e.name)
      lastName = name
      if (e.userName) uname.set(e.uid ?? 0, e.userName)
      else e.userName = uname.get(e.uid ?? 0)
      if (e.groupName) gname.set(e.gid ?? 0, e.groupName)
      else e.groupName = gname.get(e.gid ?? 0)
      this.byName.set(name, e)
      if (e.type === 'reg') {
        lastReg = e
        this.chunksOf.set(name, [])
        if ((e.size ?? 0) > 0) pending.push({ name, e, chunk: this.chunk(e, e) })
      }
    }
    // Where each payload's member ends: the next distinct member offset, or the TOC.
    let next = this.tocOffset
    for (let i = pending.length - 1; i >= 0; i--) {
      const p = pending[i]!
      p.chunk.nextOffset = next
      if (p.chunk.offset !== 0 && p.chunk.innerOffset === 0) next = p.chunk.offset
    }
    for (const p of pending) {
      const list = this.chunksOf.get(p.name)
      if (!list) continue
      if (p.e.type === 'reg') list.length = 0 // a later duplicate replaces the file
      list.push(p.chunk)
    }
    for (const [name, list] of this.chunksOf) {
      const e = this.byName.get(name)!
      let at = 0
      for (const c of list) {
        if (c.chunkOffset !== at || c.chunkSize <= 0) {
          throw new EstargzFormatError(`malformed TOC: ${name} has a chunk at ${c.chunkOffset} of ${c.chunkSize} bytes where ${at} was expected`)
        }
        at += c.chunkSize
      }
      if (at !== (e.size ?? 0)) throw new EstargzFormatError(`malformed TOC: ${name} chunks cover ${at} of its ${e.size ?? 0} bytes`)
    }
  }

  private chunk(e: TocEntry, reg: TocEntry): Chunk {
    const chunkOffset = e.chunkOffset ?? 0
    const size = reg.size ?? 0
    const chunkSize = e.chunkSize ? e.chunkSize : size - chunkOffset
    const digest = e.chunkDigest ?? (e === reg && chunkSize === size ? reg.digest : undefined)
    return { chunkOffset, chunkSize, offset: e.offset ?? 0, nextOffset: 0, innerOffset: e.innerOffset ?? 0, digest }
  }
}

/** Decompress the TOC member and take the `stargz.index.json` payload from its tar. */
function extractTocJson(compressed: Uint8Array): Buffer {
  let tar: Buffer
  try {
    tar = gunzipSync(compressed, { finishFlush: zc.Z_SYNC_FLUSH })
  } catch (err) {
    throw new EstargzFormatError(`eStargz TOC member does not decompress: ${(err as Error).message}`, { cause: err })
  }
  if (tar.length < BLOCK) throw new EstargzFormatError('eStargz TOC member holds no tar header')
  const name = tar.toString('utf8', 0, Math.max(0, tar.indexOf(0))).slice(0, 100)
  if (name !== TOC_TAR_NAME) throw new EstargzFormatError(`eStargz TOC tar entry is named ${JSON.stringify(name)}, expected ${TOC_TAR_NAME}`)
  const size = Number.parseInt(tar.toString('latin1', 124, 136).replace(/[\0 ]/g, '') || '0', 8)
  if (!Number.isSafeInteger(size) || BLOCK + size > tar.length) throw new EstargzFormatError('eStargz TOC entry is cut short')
  return tar.subarray(BLOCK, BLOCK + size)
}

/** Tell a truncated eStargz (its first member still names a landmark) from a blob that never was one. */
async function missingFooter(source: RandomAccessSource): Promise<IntegrityError> {
  const head = await source.read(0, Math.min(source.size, 64 << 10))
  if (head[0] !== 0x1f || head[1] !== 0x8b) {
    return new NotEstargzError(`not an eStargz blob: ${source.size === 0 ? 'it is empty' : 'it is not gzip'}`)
  }
  let first = ''
  try {
    const plain = gunzipSync(head, { finishFlush: zc.Z_SYNC_FLUSH })
    first = plain.toString('utf8', 0, Math.min(100, plain.length)).replace(/\0.*$/s, '')
  } catch {
    // a corrupt start: not eStargz as far as we can tell
  }
  if (first === NO_PREFETCH_LANDMARK || first === PREFETCH_LANDMARK) {
    return new TruncatedBlobError(`eStargz blob is truncated: no footer in its last ${FOOTER_SIZE} bytes (${source.size} bytes in all)`)
  }
  return new NotEstargzError(`not an eStargz blob: a gzip stream without the eStargz footer (an ordinary gzip layer?)`)
}
