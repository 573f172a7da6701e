/**
 * A second reader of a stream that someone else is pulling: the owner passes its source through
 * `through()`, and whoever holds the tap iterates it and sees the same items, e.g. unpacking a layer
 * while the same bytes are written to containerd. Unlike tee(), the two sides have separate owners,
 * so each end is explicit: the owner waits while the reader is `maxLag` items behind, the reader
 * stopping (or calling stop() without ever reading) lets the owner go on alone, and fail() tells a
 * reader that the items will not come (the owner resumed mid-stream, or had nothing to fetch).
 */
export class Tap<T> implements AsyncIterable<T> {
  private queue: T[] = []
  private state: 'open' | 'ended' | 'failed' = 'open'
  private reason: unknown
  private used = false
  private stopped = false
  private readerWaits: Array<() => void> = []
  private ownerWaits: Array<() => void> = []

  constructor(private readonly maxLag = 16) {}

  /** The owner's side: `source` unchanged, each item also handed to the tap. Only the first call is tapped. */
  through(source: AsyncIterable<T>): AsyncIterable<T> {
    if (this.used || this.state !== 'open') return source
    this.used = true
    return this.pass(source)
  }

  /** The reader's side; stopping early stops the tap. */
  async *[Symbol.asyncIterator](): AsyncGenerator<T> {
    try {
      for (;;) {
        const item = this.queue.shift()
        if (item !== undefined) {
          wake(this.ownerWaits)
          yield item
          continue
        }
        if (this.state === 'ended') return
        if (this.state === 'failed') throw this.reason
        await new Promise<void>((r) => this.readerWaits.push(r))
      }
    } finally {
      this.stop()
    }
  }

  /** The reader will read no more: the owner stops waiting for it. */
  stop(): void {
    this.stopped = true
    this.queue = []
    wake(this.ownerWaits)
  }

  /** No (more) items will come; the reader gets `reason`. Does nothing once the stream has ended. */
  fail(reason: unknown): void {
    if (this.state !== 'open') return
    this.state = 'failed'
    this.reason = reason
    wake(this.readerWaits)
  }

  private async *pass(source: AsyncIterable<T>): AsyncGenerator<T> {
    let completed = false
    try {
      for await (const item of source) {
        if (!this.stopped) {
          this.queue.push(item)
          wake(this.readerWaits)
          while (!this.stopped && this.queue.length >= this.maxLag) await new Promise<void>((r) => this.ownerWaits.push(r))
        }
        yield item
      }
      completed = true
      if (this.state === 'open') {
        this.state = 'ended'
        wake(this.readerWaits)
      }
    } catch (err) {
      this.fail(err)
      throw err
    } finally {
      if (!completed) this.fail(new Error('the stream was abandoned before its end'))
    }
  }
}

function wake(waits: Array<() => void>): void {
  for (const w of waits.splice(0)) w()
}
