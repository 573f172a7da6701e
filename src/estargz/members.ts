/**
 * A run of gzip members compressed concurrently on libuv's thread pool and written out in order.
 * Each member is an independent gzip stream, so while one is still being deflated the next can
 * already be fed: a layer's chunks compress in parallel the way Go's estargz.Build splits its
 * work across cores. Memory stays bounded: at most `concurrency` members are open, and a member
 * holding more than `maxQueued` bytes turns into a zlib stream whose writer waits for it.
 */
import { once } from 'node:events'
import { promisify } from 'node:util'
import { createGzip, gzip, type Gzip } from 'node:zlib'

const OS_BYTE = 9
const gzipAsync = promisify(gzip)

/**
 * One gzip member. Its input is gathered and deflated in one thread-pool job when it ends (the
 * cheapest way through zlib); a member that grows past `streamAbove` (a long run of headers)
 * switches to a zlib stream so that it never sits in memory whole.
 */
class Member {
  private parts: Uint8Array[] = []
  private pending = 0
  private gz: Gzip | undefined
  readonly out: Buffer[] = []
  size = 0
  private settle!: { resolve: () => void; reject: (err: unknown) => void }
  readonly done = new Promise<void>((resolve, reject) => {
    this.settle = { resolve, reject }
  })

  constructor(
    private readonly level: number,
    private readonly streamAbove: number,
  ) {}

  get queued(): number {
    return this.gz ? this.gz.writableLength : 0
  }

  /** False when the stream wants the writer to wait for 'drain'. */
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

export class MemberWriter {
  private readonly open: Member[] = []
  private current: Member | undefined
  private written = 0
  private count = 0

  constructor(
    private readonly sink: (chunk: Buffer) => Promise<void>,
    private readonly level: number,
    private readonly concurrency: number,
    private readonly maxQueued: number,
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
    this.endCurrent()
    while (this.open.length >= this.concurrency) await this.flushOldest()
    const m = new Member(this.level, this.maxQueued)
    m.done.catch(() => undefined) // observed in flushOldest
    this.open.push(m)
    this.current = m
    return this.count++
  }

  /** Append uncompressed bytes to the current member (starting one when none is open). */
  async write(bytes: Uint8Array): Promise<void> {
    if (!this.current) await this.next()
    const m = this.current!
    if (!m.write(bytes) && m.queued > this.maxQueued) await m.drained()
  }

  /** End the current member and flush everything; resolves to the compressed size of each member. */
  async finish(): Promise<number[]> {
    this.endCurrent()
    while (this.open.length > 0) await this.flushOldest()
    return this.sizes
  }

  private readonly sizes: number[] = []

  private endCurrent(): void {
    if (this.current) {
      this.current.end()
      this.current = undefined
    }
  }

  private async flushOldest(): Promise<void> {
    const m = this.open[0]!
    if (m === this.current) this.endCurrent()
    await m.done
    this.open.shift()
    await this.sink(m.out.length === 1 ? m.out[0]! : Buffer.concat(m.out, m.size))
    m.out.length = 0
    this.written += m.size
    this.sizes.push(m.size)
  }

  /** Destroy members still in flight (after an error). */
  abort(): void {
    for (const m of this.open) m.destroy()
    this.open.length = 0
    this.current = undefined
  }
}
