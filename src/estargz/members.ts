/**
 * A run of gzip members compressed concurrently and written out in order. Each member is an
 * independent gzip stream, so while one is still being deflated the next can already be fed: a
 * layer's chunks compress in parallel the way Go's estargz.Build splits its work across cores.
 * Memory stays bounded: open members hold at most about `maxOpenBytes` of input (and are at most
 * `maxOpen`), and a member holding more than `maxQueued` bytes is compressed as it arrives instead of whole.
 *
 * Two compressors: 'go' (default) writes the bytes Go's compress/gzip writes, as stargz-snapshotter's
 * estargz package drives it (a Flush before each Close that a new chunk causes), so digests and CIDs
 * match ctr-remote's and nerdctl's; it runs on worker threads (gzip-pool.ts). 'zlib' is Node's
 * zlib on libuv's thread pool: faster, but its bytes differ from Go's, and may between Node builds.
 */
import { once } from 'node:events'
import { promisify } from 'node:util'
import { createGzip, gzip, type Gzip } from 'node:zlib'
import { GzipMember } from './gzip/index.js'
import type { MemberCompressor } from './gzip-pool.js'

export type GzipCompressor = 'go' | 'zlib'

const OS_BYTE = 9
const gzipAsync = promisify(gzip)

interface Member {
  readonly done: Promise<void>
  readonly out: Uint8Array[]
  readonly size: number
  /** Bytes written but not yet taken by the compressor. */
  readonly queued: number
  /** False when the writer should wait for drained(). */
  write(bytes: Uint8Array): boolean
  drained(): Promise<unknown>
  /** No more input; `flushed` when Go's writer would Flush before Close (a new chunk follows). */
  end(flushed: boolean): void
  destroy(): void
}

abstract class Gathered {
  protected parts: Uint8Array[] = []
  protected pending = 0
  readonly out: Uint8Array[] = []
  size = 0
  protected settle!: { resolve: () => void; reject: (err: unknown) => void }
  readonly done = new Promise<void>((resolve, reject) => {
    this.settle = { resolve, reject }
  })

  /** The gathered input as one buffer of its own (it may be moved to another thread). */
  protected joined(): Uint8Array {
    const input = new Uint8Array(this.pending)
    let p = 0
    for (const part of this.parts) {
      input.set(part, p)
      p += part.byteLength
    }
    this.parts = []
    return input
  }
}

/**
 * zlib: gathered and deflated in one thread-pool job when it ends (the cheapest way through zlib);
 * one that grows past `streamAbove` (a long run of headers) switches to a zlib stream.
 */
class ZlibMember extends Gathered implements Member {
  private gz: Gzip | undefined

  constructor(
    private readonly level: number,
    private readonly streamAbove: number,
  ) {
    super()
  }

  get queued(): number {
    return this.gz ? this.gz.writableLength : 0
  }

  write(bytes: Uint8Array): boolean {
    if (this.gz) return this.gz.write(bytes)
    this.parts.push(bytes)
    this.pending += bytes.byteLength
    if (this.pending > this.streamAbove) this.toStream()
    return true
  }

  drained(): Promise<unknown> {
    return this.gz ? Promise.race([once(this.gz, 'drain'), this.done]) : Promise.resolve()
  }

  end(): void {
    if (this.gz) {
      this.gz.end()
      return
    }
    const input = this.parts.length === 1 ? this.parts[0]! : Buffer.concat(this.parts, this.pending)
    this.parts = []
    gzipAsync(input, { level: this.level }).then((out) => {
      this.take(out)
      this.settle.resolve()
    }, this.settle.reject)
  }

  destroy(): void {
    this.gz?.destroy()
  }

  private take(chunk: Buffer): void {
    // Go's compress/gzip writes OS = 255 ("unknown"); zlib writes the build platform's.
    if (this.size <= OS_BYTE && this.size + chunk.length > OS_BYTE) chunk[OS_BYTE - this.size] = 0xff
    this.size += chunk.length
    this.out.push(chunk)
  }

  private toStream(): void {
    const gz = createGzip({ level: this.level, chunkSize: 64 << 10 })
    gz.on('data', (chunk: Buffer) => this.take(chunk))
    gz.once('end', () => this.settle.resolve())
    gz.once('error', (err) => this.settle.reject(err))
    this.gz = gz
    for (const p of this.parts) gz.write(p)
    this.parts = []
  }
}

/**
 * Go's bytes: gathered and compressed whole by a gzip worker when it ends; one that grows past
 * `streamAbove` is compressed in this thread as it arrives (the encoder's output does not depend
 * on how its input is split, so this changes nothing in the bytes).
 */
class GoMember extends Gathered implements Member {
  private gz: GzipMember | undefined
  readonly queued = 0

  constructor(
    private readonly level: number,
    private readonly streamAbove: number,
    private readonly pool: MemberCompressor,
  ) {
    super()
  }

  write(bytes: Uint8Array): boolean {
    if (this.gz) {
      this.gz.write(bytes)
      if (this.gz.pending >= 1 << 20) this.take(this.gz.take())
      return true
    }
    this.parts.push(bytes)
    this.pending += bytes.byteLength
    if (this.pending > this.streamAbove) {
      const gz = new GzipMember(this.level)
      for (const p of this.parts) gz.write(p)
      this.parts = []
      this.gz = gz
    }
    return true
  }

  drained(): Promise<unknown> {
    return Promise.resolve()
  }

  end(flushed: boolean): void {
    if (this.gz) {
      try {
        if (flushed) this.gz.flush()
        this.take(this.gz.close())
        this.settle.resolve()
      } catch (err) {
        this.settle.reject(err)
      }
      return
    }
    this.pool.compress(this.joined(), this.level, flushed).then((out) => {
      this.take(out)
      this.settle.resolve()
    }, this.settle.reject)
  }

  destroy(): void {
    this.parts = []
  }

  private take(chunk: Uint8Array): void {
    if (chunk.byteLength === 0) return
    this.size += chunk.byteLength
    this.out.push(chunk)
  }
}

export interface MemberWriterOptions {
  /** gzip level. */
  level: number
  /** Members open at once, at most. */
  maxOpen: number
  /** Uncompressed bytes the open members may hold before a new one waits for the oldest to be written. */
  maxOpenBytes: number
  /** Input a member gathers before it is compressed as it arrives (and its writer waits on it). */
  maxQueued: number
  compressor: GzipCompressor
  /** Where the 'go' compressor's members are compressed. */
  pool: MemberCompressor
}

export class MemberWriter {
  private readonly open: Member[] = []
  /** Uncompressed bytes written to each open member, and their sum. */
  private readonly openSizes: number[] = []
  private openBytes = 0
  private current: Member | undefined
  private written = 0
  private count = 0

  constructor(
    private readonly sink: (chunk: Buffer) => Promise<void>,
    private readonly o: MemberWriterOptions,
  ) {}

  /** Bytes of compressed output handed to the sink so far. */
  get flushedBytes(): number {
    return this.written
  }

  /**
   * End the current member (if any) and start a new one; resolves to the new member's index.
   * Offsets follow from the compressed sizes that finish() returns.
   */
  async next(): Promise<number> {
    this.endCurrent(true)
    while (this.open.length > 0 && (this.open.length >= this.o.maxOpen || this.openBytes >= this.o.maxOpenBytes)) await this.flushOldest()
    const m: Member = this.o.compressor === 'zlib'
      ? new ZlibMember(this.o.level, this.o.maxQueued)
      : new GoMember(this.o.level, this.o.maxQueued, this.o.pool)
    m.done.catch(() => undefined) // observed in flushOldest
    this.open.push(m)
    this.openSizes.push(0)
    this.current = m
    return this.count++
  }

  /** End the current member without a flush; the next write starts a new one. */
  endMember(): void {
    this.endCurrent(false)
  }

  /** Append uncompressed bytes to the current member (starting one when none is open). */
  async write(bytes: Uint8Array): Promise<void> {
    if (!this.current) await this.next()
    const m = this.current!
    // The current member is the newest open one.
    this.openSizes[this.openSizes.length - 1]! += bytes.byteLength
    this.openBytes += bytes.byteLength
    if (!m.write(bytes) && m.queued > this.o.maxQueued) await m.drained()
  }

  /** End the current member and flush everything; resolves to the compressed size of each member. */
  async finish(): Promise<number[]> {
    this.endCurrent(false)
    while (this.open.length > 0) await this.flushOldest()
    return this.sizes
  }

  private readonly sizes: number[] = []

  private endCurrent(flushed: boolean): void {
    if (this.current) {
      this.current.end(flushed)
      this.current = undefined
    }
  }

  private async flushOldest(): Promise<void> {
    const m = this.open[0]!
    if (m === this.current) this.endCurrent(true)
    await m.done
    this.open.shift()
    this.openBytes -= this.openSizes.shift()!
    const out = m.out.length === 1 ? m.out[0]! : Buffer.concat(m.out, m.size)
    await this.sink(Buffer.isBuffer(out) ? out : Buffer.from(out.buffer, out.byteOffset, out.byteLength))
    m.out.length = 0
    this.written += m.size
    this.sizes.push(m.size)
  }

  /** Destroy members still in flight (after an error). */
  abort(): void {
    for (const m of this.open) m.destroy()
    this.open.length = 0
    this.openSizes.length = 0
    this.openBytes = 0
    this.current = undefined
  }
}
