/**
 * Pass one of the writer: bring the layer's tar to a local file we can read at random (the
 * Go writer does the same: it reorders entries, and a later duplicate replaces an earlier one),
 * gunzipping on the way when the layer is gzip, and index its entries.
 */
import { createReadStream } from 'node:fs'
import { open, rm, statfs } from 'node:fs/promises'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { pipeline, Readable } from 'node:stream'
import { createGunzip } from 'node:zlib'
import { LimitExceededError, type ImageLimits } from '../oci/limits.js'
import { formatSize } from '../util/size.js'
import { InvalidLayerError } from './errors.js'
import { TarScanner, type TarEntry } from './tar.js'

export interface SpooledTar {
  path: string
  entries: TarEntry[]
  /** Remove the spool file when we made it (a no-op for a tar indexed in place). */
  cleanup(): Promise<void>
}

export type LayerCompression = 'gzip' | 'none'

const SPOOL_BATCH = 1 << 20
/** How often the spool's filesystem is asked for its free space. */
const SPACE_CHECK_EVERY = 64 << 20

/**
 * Bounds on the spool, which is the layer expanded: a gzip bomb must stop long before it fills a
 * disk.
 */
export interface SpoolLimits {
  /** The most the expanded tar may take; `limit` names the flag that raises it, `why` the bound's origin. */
  maxTarSize?: { bytes: number; limit: keyof ImageLimits; why: string }
  /** Stop when less than this is left free on the spool's filesystem. */
  minFreeSpace?: number
}

async function checkFreeSpace(dir: string, min: number): Promise<void> {
  const fs = await statfs(dir)
  const free = fs.bavail * fs.bsize
  if (free < min) throw new LimitExceededError('minFreeSpace', `only ${formatSize(free)} is left free on the filesystem of ${dir}, and ipcr keeps ${formatSize(min)} free while it expands a layer`)
}

/** Decompress (when gzip) and spool `input` into `dir`, indexing its entries. */
export async function spoolLayer(input: AsyncIterable<Uint8Array>, dir: string, signal?: AbortSignal, limits: SpoolLimits = {}): Promise<SpooledTar> {
  const { compression, stream } = await sniff(input)
  const tarBytes = compression === 'gzip' ? gunzip(stream) : stream
  const path = join(dir, `estargz-spool-${randomBytes(6).toString('hex')}.tar`)
  const fh = await open(path, 'w')
  const cleanup = () => rm(path, { force: true })
  try {
    const entries: TarEntry[] = []
    const scanner = new TarScanner((e) => entries.push(e))
    let batch: Buffer[] = []
    let batched = 0
    let total = 0
    let nextSpaceCheck = 0
    const max = limits.maxTarSize
    const flush = async () => {
      if (batched === 0) return
      if (limits.minFreeSpace !== undefined && total >= nextSpaceCheck) {
        await checkFreeSpace(dir, limits.minFreeSpace)
        nextSpaceCheck = total + SPACE_CHECK_EVERY
      }
      const buf = batch.length === 1 ? batch[0]! : Buffer.concat(batch, batched)
      batch = []
      batched = 0
      await fh.write(buf, 0, buf.length)
    }
    for await (const chunk of tarBytes) {
      signal?.throwIfAborted()
      total += chunk.byteLength
      if (max !== undefined && total > max.bytes) {
        throw new LimitExceededError(max.limit, `the layer expands past ${formatSize(max.bytes)} (${max.why}); a gzip bomb looks like this`)
      }
      scanner.push(chunk)
      batch.push(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength))
      batched += chunk.byteLength
      if (batched >= SPOOL_BATCH) await flush()
    }
    scanner.finish()
    await flush()
    await fh.close()
    return { path, entries, cleanup }
  } catch (err) {
    await fh.close().catch(() => undefined)
    await cleanup()
    throw err
  }
}

/** Index an uncompressed tar file where it lies. */
export async function indexTarFile(path: string, signal?: AbortSignal): Promise<SpooledTar> {
  const entries: TarEntry[] = []
  const scanner = new TarScanner((e) => entries.push(e))
  for await (const chunk of createReadStream(path, { highWaterMark: SPOOL_BATCH })) {
    signal?.throwIfAborted()
    scanner.push(chunk as Buffer)
  }
  scanner.finish()
  return { path, entries, cleanup: async () => undefined }
}

/** Look at the first bytes: gzip, zstd (refused: Node 20's zlib has no zstd) or plain. */
export async function sniff(input: AsyncIterable<Uint8Array>): Promise<{ compression: LayerCompression; stream: AsyncIterable<Uint8Array> }> {
  const it = input[Symbol.asyncIterator]()
  const head: Uint8Array[] = []
  let len = 0
  let done = false
  while (len < 4) {
    const r = await it.next()
    if (r.done) {
      done = true
      break
    }
    head.push(r.value)
    len += r.value.byteLength
  }
  const first = Buffer.concat(head)
  const stream = (async function* () {
    if (first.length) yield first
    if (done) return
    for (;;) {
      const r = await it.next()
      if (r.done) return
      yield r.value
    }
  })()
  if (first[0] === 0x28 && first[1] === 0xb5 && first[2] === 0x2f && first[3] === 0xfd) {
    throw new InvalidLayerError('zstd-compressed layers are not supported; give a gzip or plain tar layer')
  }
  const gzip = first[0] === 0x1f && first[1] === 0x8b && first[2] === 0x08
  return { compression: gzip ? 'gzip' : 'none', stream }
}

async function* gunzip(source: AsyncIterable<Uint8Array>): AsyncGenerator<Uint8Array> {
  const z = createGunzip({ chunkSize: 64 << 10 })
  const out = pipeline(Readable.from(source, { objectMode: false }), z, () => undefined)
  try {
    for await (const chunk of out) yield chunk as Buffer
  } catch (err) {
    const code = (err as { code?: string }).code
    if (code === 'Z_BUF_ERROR') throw new InvalidLayerError('layer gzip stream is truncated', { cause: err })
    if (typeof code === 'string' && code.startsWith('Z_')) {
      throw new InvalidLayerError(`layer gzip stream is corrupt: ${(err as Error).message}`, { cause: err })
    }
    throw err
  }
}
