/**
 * A run of gzip members compressed concurrently on libuv's thread pool and written out in order.
 * Each member is an independent gzip stream, so while one is still being deflated the next can
 * already be fed: a layer's chunks compress in parallel the way Go's estargz.Build splits its
 * work across cores. Memory stays bounded: at most `concurrency` members are open, and a member
 * stops taking input while more than `maxQueued` bytes wait for the compressor.
 */
import { once } from 'node:events'
import { createGzip, type Gzip } from 'node:zlib'

const OS_BYTE = 9

class Member {
  readonly gz: Gzip
  readonly out: Buffer[] = []
  size = 0
  readonly done: Promise<void>

  constructor(level: number) {
    this.gz = createGzip({ level, chunkSize: 64 << 10 })
    this.gz.on('data', (chunk: Buffer) => {
      // Go's compress/gzip writes OS = 255 ("unknown"); zlib writes the build platform's.
      if (this.size <= OS_BYTE && this.size + chunk.length > OS_BYTE) chunk[OS_BYTE - this.size] = 0xff
      this.size += chunk.length
      this.out.push(chunk)
    })
    this.done = new Promise((resolve, reject) => {
      this.gz.once('end', resolve)
      this.gz.once('error', reject)
    })
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
   * Member offsets are known once they are flushed: see offsetOf.
   */
  async next(): Promise<number> {
    this.endCurrent()
    while (this.open.length >= this.concurrency) await this.flushOldest()
    const m = new Member(this.level)
    m.done.catch(() => undefined) // observed in flushOldest
    this.open.push(m)
    this.current = m
    return this.count++
  }

  /** Append uncompressed bytes to the current member (starting one when none is open). */
  async write(bytes: Uint8Array): Promise<void> {
    if (!this.current) await this.next()
    const gz = this.current!.gz
    if (!gz.write(bytes) && gz.writableLength > this.maxQueued) await Promise.race([once(gz, 'drain'), this.current!.done])
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
      this.current.gz.end()
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
    for (const m of this.open) m.gz.destroy()
    this.open.length = 0
    this.current = undefined
  }
}
