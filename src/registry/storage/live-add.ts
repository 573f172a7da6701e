import type { CID } from 'multiformats/cid'

/** One UnixFS leaf: what the importer and kubo cut the bytes into anyway. */
const batch = 256 << 10

/** Start adding the bytes `feed` yields to IPFS, unpinned; `signal` aborts the add. */
export type StartAdd = (feed: AsyncIterable<Uint8Array>, signal: AbortSignal) => Promise<CID>

export interface LiveAddOptions {
  /** At most this many adds are open at once; a session beyond it is added from its spool at commit. */
  max: number
  /** An add fed nothing for this long is given up (its session is added from its spool at commit). */
  idleMs: number
  /** A writer waits while the add lags this many bytes behind. */
  maxQueued: number
}

/**
 * Adds that run while an upload arrives. Without them a blob reaches IPFS only after its last
 * chunk, when the commit reads the spool back and hashes it again for CIDs: the push waits for
 * both passes one after the other. Fed as the chunks come, the add ends with the upload and the
 * commit only pins the CID. The blocks are added unpinned, so an upload that fails its digest,
 * is cancelled or dies with the server leaves nothing kubo's repo GC will not take.
 *
 * An add holds one of the kubo client's sockets for as long as its session is open, so they are
 * few (`max`) and an idle one is given up: a client that wanders off costs a socket for `idleMs`.
 */
export class LiveAdds {
  private open = 0

  constructor(private readonly start: StartAdd, private readonly o: LiveAddOptions = { max: 8, idleMs: 60_000, maxQueued: 4 << 20 }) {}

  /** A new add, or undefined when `max` are open. */
  begin(): LiveAdd | undefined {
    if (this.open >= this.o.max) return undefined
    this.open++
    return new LiveAdd(this.start, this.o, () => { this.open-- })
  }
}

/** One blob's add, fed chunk by chunk. A failed or given-up add never throws at its writer: the commit falls back. */
export class LiveAdd {
  private readonly controller = new AbortController()
  private readonly queue: Uint8Array[] = []
  private queued = 0
  private ended = false
  private wakeFeed: (() => void) | undefined
  private wakeWriter: (() => void) | undefined
  private idle: NodeJS.Timeout | undefined
  private readonly result: Promise<CID>

  constructor(start: StartAdd, private readonly o: LiveAddOptions, settled: () => void) {
    this.result = start(this.feed(), this.controller.signal)
    this.result.then(settled, settled)
    this.arm()
  }

  get alive(): boolean {
    return !this.controller.signal.aborted
  }

  /** Queue a chunk; waits while the add is `maxQueued` bytes behind. */
  async write(chunk: Uint8Array): Promise<void> {
    if (!this.alive || this.ended) return
    this.queue.push(chunk)
    this.queued += chunk.byteLength
    this.wake()
    this.arm()
    while (this.queued > this.o.maxQueued && this.alive) await new Promise<void>((r) => { this.wakeWriter = r })
  }

  /** No more bytes: the CID of everything written (rejects if the add failed or was given up). */
  end(): Promise<CID> {
    this.ended = true
    clearTimeout(this.idle)
    this.wake()
    return this.result
  }

  abort(reason: string): void {
    clearTimeout(this.idle)
    if (this.alive) this.controller.abort(new Error(reason))
    this.wake()
  }

  /**
   * The queued bytes in pieces of at least `batch` (but the last): a request body arrives in
   * chunks of a few KiB, and each piece costs the add its own trip through the tee, the importer
   * and kubo's socket, which measured slower than the whole upload when paid per chunk.
   */
  private async *feed(): AsyncGenerator<Uint8Array> {
    for (;;) {
      // Throw, never return, when aborted: a feed that ended early would add a shorter file.
      if (!this.alive) throw this.controller.signal.reason
      if (this.queued >= Math.min(batch, this.o.maxQueued) || (this.ended && this.queued > 0)) {
        const piece = this.queue.length === 1 ? this.queue[0] as Uint8Array : Buffer.concat(this.queue, this.queued)
        this.queue.length = 0
        this.queued = 0
        this.wake()
        yield piece
        continue
      }
      if (this.ended) return
      await new Promise<void>((r) => { this.wakeFeed = r })
    }
  }

  private wake(): void {
    const f = this.wakeFeed
    const w = this.wakeWriter
    this.wakeFeed = this.wakeWriter = undefined
    f?.()
    w?.()
  }

  private arm(): void {
    clearTimeout(this.idle)
    this.idle = setTimeout(() => this.abort(`no bytes for ${this.o.idleMs} ms`), this.o.idleMs)
    this.idle.unref()
  }
}
