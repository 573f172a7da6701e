/**
 * The eStargz writer: tar (plain or gzip) in, eStargz out, in two passes over a local spool so
 * memory does not grow with the layer. Entries are ordered as Go's estargz.Build orders them,
 * each entry's header blocks are re-encoded as Go's tar.Writer writes them (go-tar-header.ts), every non-empty regular file
 * payload and every chunk of a large one starts a new gzip member, the TOC rides alone in the
 * last member before the footer.
 */
import { createHash, type Hash } from 'node:crypto'
import { open, type FileHandle } from 'node:fs/promises'
import { availableParallelism, tmpdir } from 'node:os'
import { PassThrough, type Readable } from 'node:stream'
import { once } from 'node:events'
import { promisify } from 'node:util'
import { gzip as gzipCb } from 'node:zlib'
import type { Digest } from '../oci/digest.js'
import { DEFAULT_CHUNK_SIZE, DEFAULT_COMPRESSION_LEVEL, LANDMARK_CONTENTS, TOC_TAR_NAME } from './constants.js'
import { footerBytes } from './footer.js'
import { estargzParts } from './writer-id.js'
import { memberCompressor, type MemberCompressor } from './gzip-pool.js'
import { MemberWriter, type GzipCompressor } from './members.js'
import { isLandmark, orderEntries, type Ordered } from './order.js'
import { indexTarFile, spoolLayer, type SpooledTar, type SpoolLimits } from './spool.js'
import { BLOCK, goEntryHeader, paddingFor, ustarRegularHeader, type TarEntry } from './tar.js'
import { marshalToc, type TocEntry } from './toc.js'

const gzipAsync = promisify(gzipCb)

export interface EstargzOptions {
  /** Largest payload per gzip member; default 4 MiB, as the Go writer. */
  chunkSize?: number
  /** gzip level 0-9 (-1 and, with the 'go' compressor, -2 too); default 9 (gzip.BestCompression), as the Go writer. */
  level?: number
  /**
   * 'go' (default): the bytes Go's compress/gzip writes, so the blob (and its CID) equals what
   * stargz-snapshotter's Go writer builds from the same tar. 'zlib': Node's zlib, about twice as
   * fast per core, but its bytes (so the digests and CIDs) differ from the Go tools'.
   */
  compressor?: GzipCompressor
  /** Worker threads compressing members with the 'go' compressor; default the core count (at most 4), 0 for this thread. */
  gzipWorkers?: number
  /** Compress the 'go' compressor's members here instead (EstargzPool's GzipPool); gzipWorkers then does not apply. */
  compressWith?: MemberCompressor
  /**
   * Go's estargz.Build cuts the entries into this many parts by payload size and writes each part
   * with its own Writer, which starts a fresh gzip member at every part: the blob's bytes depend on
   * it. Go takes GOMAXPROCS (the core count) unless told otherwise (WithParallelism), so the
   * default here is the core count too, which gives ctr-remote's bytes on the same machine; 1 gives
   * the same bytes on every machine.
   */
  parts?: number
  /** Paths to put first (absolute or relative to `/`), followed by `.prefetch.landmark`. */
  prioritizedFiles?: readonly string[]
  /** Record prioritized files the layer lacks in `missedPrioritized` instead of failing. */
  allowMissingPrioritized?: boolean
  /** Where the spool of a streamed layer goes; default os.tmpdir(). */
  tmpDir?: string
  /** How large the spool (the layer expanded) may grow; unbounded by default. */
  spoolLimits?: SpoolLimits
  signal?: AbortSignal
}

export interface EstargzResult {
  /** sha256 of the eStargz blob, and its size. */
  digest: Digest
  compressedSize: number
  /** sha256 of the TOC JSON: the `containerd.io/snapshot/stargz/toc.digest` annotation. */
  tocDigest: Digest
  /** sha256 of the uncompressed tar (TOC entry included): the config's new diff_id. */
  diffId: Digest
  /** The `io.containers.estargz.uncompressed-size` annotation. */
  uncompressedSize: number
  missedPrioritized: string[]
}

/** A layer as a byte stream (gzip or plain tar), or an uncompressed tar file to read in place. */
export type EstargzInput = AsyncIterable<Uint8Array> | { tarFile: string }

export type BlobSink = (chunk: Uint8Array) => Promise<void>

export async function writeEstargz(input: EstargzInput, sink: BlobSink, opts: EstargzOptions = {}): Promise<EstargzResult> {
  const spool = Symbol.asyncIterator in input
    ? await spoolLayer(input, opts.tmpDir ?? tmpdir(), opts.signal, opts.spoolLimits)
    : await indexTarFile(input.tarFile, opts.signal)
  try {
    return await writeFromSpool(spool, sink, opts)
  } finally {
    await spool.cleanup()
  }
}

/** Write the blob to `path`. */
export async function writeEstargzFile(input: EstargzInput, path: string, opts: EstargzOptions = {}): Promise<EstargzResult> {
  const fh = await open(path, 'w')
  try {
    const result = await writeEstargz(input, async (c) => void (await fh.write(c, 0, c.byteLength)), opts)
    await fh.close()
    return result
  } catch (err) {
    await fh.close().catch(() => undefined)
    throw err
  }
}

/** The blob as a stream; `result` settles when the stream has been read to its end. */
export function estargzStream(input: EstargzInput, opts: EstargzOptions = {}): { stream: Readable; result: Promise<EstargzResult> } {
  const stream = new PassThrough({ highWaterMark: 1 << 20 })
  const result = writeEstargz(
    input,
    async (c) => {
      if (!stream.write(c)) await Promise.race([once(stream, 'drain'), once(stream, 'close')])
      if (stream.destroyed) throw new Error('eStargz stream closed by its reader')
    },
    opts,
  ).then(
    (r) => {
      stream.end()
      return r
    },
    (err: unknown) => {
      stream.destroy(err as Error)
      throw err
    },
  )
  result.catch(() => undefined) // the stream carries the error too
  return { stream, result }
}

const ZEROS = Buffer.alloc(2 * BLOCK)
/** However small, members in flight are a promise and a job each: a bound on their number too. */
const MAX_OPEN_MEMBERS = 256
const EMPTY_DIGEST: Digest = 'sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855'

const hex = (h: Hash): Digest => `sha256:${h.digest('hex')}`

/** Reads the spool at increasing offsets through a window, handing out fresh buffers (zlib keeps them). */
class SpoolReader {
  private window: Buffer = Buffer.alloc(0)
  private windowStart = 0
  constructor(private readonly fh: FileHandle) {}

  async read(offset: number, length: number): Promise<Buffer> {
    if (offset >= this.windowStart && offset + length <= this.windowStart + this.window.length) {
      return this.window.subarray(offset - this.windowStart, offset - this.windowStart + length)
    }
    if (length >= 256 << 10) return this.fill(offset, length)
    this.window = await this.fill(offset, Math.max(length, 1 << 20), length)
    this.windowStart = offset
    return this.window.subarray(0, length)
  }

  private async fill(offset: number, want: number, need = want): Promise<Buffer> {
    const buf = Buffer.allocUnsafe(want)
    let got = 0
    while (got < want) {
      const { bytesRead } = await this.fh.read(buf, got, want - got, offset + got)
      if (bytesRead === 0) break
      got += bytesRead
    }
    if (got < need) throw new Error(`spool ended early at ${offset + got}`)
    return buf.subarray(0, got)
  }
}

function formatModtime(e: TarEntry): string | undefined {
  // Go: empty for the zero time and for the Unix epoch, else RFC 3339 UTC rounded to the second.
  if (e.mtime === 0 || e.mtime === -62135596800) return undefined
  return new Date(e.mtimeRounded * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z')
}

/** Indexes of the entries that begin a new part, cut as Go's divideEntries cuts them. */
function partStartsOf(entries: readonly Ordered[], parts: number): Set<number> {
  const size = (e: Ordered) => (isLandmark(e) ? 1 : e.size)
  let total = 0
  for (const e of entries) total += size(e)
  const unit = Math.floor(total / parts)
  const starts = new Set<number>()
  let nextEnd = unit
  let offset = 0
  for (let i = 0; i < entries.length; i++) {
    offset += size(entries[i]!)
    if (offset > nextEnd) {
      starts.add(i + 1)
      nextEnd += unit
    }
  }
  return starts
}

async function writeFromSpool(spool: SpooledTar, sink: BlobSink, opts: EstargzOptions): Promise<EstargzResult> {
  const chunkSize = opts.chunkSize ?? DEFAULT_CHUNK_SIZE
  const level = opts.level ?? DEFAULT_COMPRESSION_LEVEL
  if (!Number.isSafeInteger(chunkSize) || chunkSize <= 0) throw new RangeError(`chunk size must be a positive integer, not ${chunkSize}`)
  const compressor = opts.compressor ?? 'go'
  const minLevel = compressor === 'go' ? -2 : -1
  if (!Number.isInteger(level) || level < minLevel || level > 9) throw new RangeError(`gzip level must be ${minLevel} to 9, not ${level}`)
  const cores = Math.min(availableParallelism(), 4)
  // Members leave in order, so a slow one (a whole chunk at level 9 takes the better part of a
  // second) holds up the ones behind it. Bounding them by bytes, two chunks per worker, rather than
  // by count (two per worker, as before) lets the run of small files behind a big chunk keep the
  // other workers busy; the bytes held stay what they were. The realistic image (bench/convert):
  // 15.3 -> 14.1 s.
  const maxOpenBytes = 2 * cores * chunkSize
  const gzipWorkers = Math.max(0, opts.gzipWorkers ?? cores)
  const { entries, missed } = orderEntries(spool.entries, opts.prioritizedFiles, opts.allowMissingPrioritized)
  const parts = estargzParts(opts)
  if (!Number.isSafeInteger(parts) || parts < 1) throw new RangeError(`parts must be a positive integer, not ${parts}`)
  const partStarts = partStartsOf(entries, parts)

  const blobHash = createHash('sha256')
  let compressedSize = 0
  const out: BlobSink = async (c) => {
    blobHash.update(c)
    compressedSize += c.byteLength
    await sink(c)
  }
  const diffHash = createHash('sha256')
  let uncompressedSize = 0
  // A member may take a whole chunk plus the headers after it before its writer waits on the
  // compressor, so a chunk never stalls the next one from being fed.
  const gzipPool = opts.compressWith ?? memberCompressor(gzipWorkers)
  const members = new MemberWriter(out, { level, maxOpen: MAX_OPEN_MEMBERS, maxOpenBytes, maxQueued: 2 * chunkSize + (1 << 20), compressor, pool: gzipPool })
  const emit = async (b: Uint8Array) => {
    diffHash.update(b)
    uncompressedSize += b.byteLength
    await members.write(b)
  }

  const fh = await open(spool.path, 'r')
  const reader = new SpoolReader(fh)
  const toc: TocEntry[] = []
  const memberOf = new Map<TocEntry, number>()
  const lastUser = new Map<number, string>()
  const lastGroup = new Map<number, string>()
  const nameIfChanged = (m: Map<number, string>, id: number, name: string) => {
    if (name === '' || m.get(id) === name) return undefined
    m.set(id, name)
    return name
  }
  const piece = Math.min(chunkSize, 1 << 20)

  try {
    await members.next()
    for (let i = 0; i < entries.length; i++) {
      const item = entries[i]!
      opts.signal?.throwIfAborted()
      // Go's next part is another Writer: its last member closed (unflushed), the next one fresh,
      // and user and group names written out again.
      if (partStarts.has(i)) {
        members.endMember()
        lastUser.clear()
        lastGroup.clear()
      }
      if (isLandmark(item)) {
        await emit(ustarRegularHeader(item.landmark, 1))
        const payload = Buffer.alloc(BLOCK)
        payload[0] = LANDMARK_CONTENTS
        const digest: Digest = `sha256:${createHash('sha256').update(payload.subarray(0, 1)).digest('hex')}`
        const entry: TocEntry = { name: item.landmark, type: 'reg', size: 1, digest, chunkDigest: digest }
        memberOf.set(entry, await members.next())
        await emit(payload)
        toc.push(entry)
        continue
      }
      const e = item
      await emit(goEntryHeader(e.go))
      let xattrs: Record<string, string> | undefined
      if (e.xattrs) {
        xattrs = {}
        for (const [k, v] of e.xattrs) xattrs[k] = v.toString('base64')
      }
      const entry: TocEntry = {
        name: e.name,
        type: e.type,
        size: e.type === 'reg' ? e.size : undefined,
        modtime: formatModtime(e),
        linkName: e.type === 'symlink' || e.type === 'hardlink' ? e.linkname : undefined,
        mode: e.mode,
        uid: e.uid,
        gid: e.gid,
        userName: nameIfChanged(lastUser, e.uid, e.uname),
        groupName: nameIfChanged(lastGroup, e.gid, e.gname),
        devMajor: e.type === 'char' || e.type === 'block' ? e.devmajor : undefined,
        devMinor: e.type === 'char' || e.type === 'block' ? e.devminor : undefined,
        xattrs,
      }
      if (e.type !== 'reg' || e.size === 0) {
        if (e.type === 'reg') entry.digest = EMPTY_DIGEST
        toc.push(entry)
        continue
      }
      const fileHash = createHash('sha256')
      let ent = entry
      for (let written = 0; written < e.size; ) {
        const n = Math.min(chunkSize, e.size - written)
        if (n === chunkSize) ent.chunkSize = chunkSize // Go leaves it out only on a final short chunk
        ent.chunkOffset = written
        memberOf.set(ent, await members.next())
        const chunkHash = createHash('sha256')
        for (let pos = 0; pos < n; pos += piece) {
          const buf = await reader.read(e.dataStart + written + pos, Math.min(piece, n - pos))
          chunkHash.update(buf)
          fileHash.update(buf)
          await emit(buf)
        }
        ent.chunkDigest = hex(chunkHash)
        toc.push(ent)
        written += n
        ent = { name: e.name, type: 'chunk' }
      }
      entry.digest = hex(fileHash)
      const pad = paddingFor(e.size)
      if (pad) await emit(ZEROS.subarray(0, pad))
    }

    const sizes = await members.finish()
    const offsets: number[] = []
    let tocOffset = 0
    for (const s of sizes) {
      offsets.push(tocOffset)
      tocOffset += s
    }
    for (const [entry, index] of memberOf) entry.offset = offsets[index]
    const tocJson = marshalToc({ version: 1, entries: toc })
    const tocTar = Buffer.concat([ustarRegularHeader(TOC_TAR_NAME, tocJson.length), tocJson, ZEROS.subarray(0, paddingFor(tocJson.length)), ZEROS])
    diffHash.update(tocTar)
    uncompressedSize += tocTar.length
    // Go writes the TOC member with Close alone, no Flush. It goes to the gzip workers as the
    // others do, so this thread never builds a Deflater's tables of its own.
    let tocMember: Uint8Array
    if (compressor === 'go') tocMember = await gzipPool.compress(tocTar, level, false)
    else {
      tocMember = await gzipAsync(tocTar, { level })
      tocMember[9] = 0xff
    }
    await out(tocMember)
    await out(footerBytes(tocOffset))
    return {
      digest: hex(blobHash),
      compressedSize,
      tocDigest: `sha256:${createHash('sha256').update(tocJson).digest('hex')}`,
      diffId: hex(diffHash),
      uncompressedSize,
      missedPrioritized: missed,
    }
  } catch (err) {
    members.abort()
    throw err
  } finally {
    await fh.close()
  }
}
