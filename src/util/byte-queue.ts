/**
 * Bytes arriving in chunks, taken off the front in pieces of known length (framed protocols).
 * A piece inside one chunk is a view of it; one that spans chunks is joined once, when needed.
 */
export class ByteQueue {
  private parts: Buffer[] = []
  private held = 0

  /** Bytes held. */
  get length(): number { return this.held }

  push(chunk: Buffer): void {
    this.parts.push(chunk)
    this.held += chunk.length
  }

  /** The first `n` held bytes, not taken (n <= length); a view that may extend past n. */
  peek(n: number): Buffer {
    const first = this.parts[0] as Buffer
    if (first.length >= n) return first
    const joined = Buffer.concat(this.parts)
    this.parts = [joined]
    return joined
  }

  /** Take the first `n` held bytes (n <= length). */
  take(n: number): Buffer {
    const whole = this.peek(n)
    const rest = whole.subarray(n)
    if (rest.length === 0) this.parts.shift()
    else this.parts[0] = rest
    this.held -= n
    return whole.subarray(0, n)
  }
}
