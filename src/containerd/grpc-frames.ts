/**
 * gRPC's length-prefixed messages on an HTTP/2 stream: one flag byte (1 = compressed), a 4-byte
 * big-endian length, then the message. We never ask for compression, so a compressed message is an error.
 */

/** The 5-byte prefix of an uncompressed message of `length` bytes; written ahead of the message, not copied into it. */
export function framePrefix(length: number): Buffer {
  const prefix = Buffer.allocUnsafe(5)
  prefix[0] = 0
  prefix.writeUInt32BE(length, 1)
  return prefix
}

export class FrameError extends Error {}

/**
 * Splits the bytes of a stream into whole messages as they arrive. A message that spans chunks is
 * joined once, when its last byte is in; one inside a chunk is a view of it, not a copy.
 */
export class FrameDecoder {
  private parts: Buffer[] = []
  private held = 0

  constructor(private readonly maxMessageBytes: number) {}

  /** Bytes of an unfinished message; non-zero when a stream ends means it was cut short. */
  get pending(): number { return this.held }

  *push(chunk: Buffer): Generator<Buffer> {
    this.parts.push(chunk)
    this.held += chunk.byteLength
    while (this.held >= 5) {
      const head = this.peek(5)
      if (head[0] !== 0) throw new FrameError(head[0] === 1 ? 'the server sent a compressed message, which we never asked for' : `bad message flag ${head[0]}`)
      const length = head.readUInt32BE(1)
      if (length > this.maxMessageBytes) throw new FrameError(`a ${length}-byte message exceeds the ${this.maxMessageBytes}-byte limit`)
      if (this.held < 5 + length) return
      yield this.take(5 + length).subarray(5)
    }
  }

  /** The first `n` held bytes, joined only when they span parts. */
  private peek(n: number): Buffer {
    const first = this.parts[0] as Buffer
    if (first.byteLength >= n) return first
    const joined = Buffer.concat(this.parts)
    this.parts = [joined]
    return joined
  }

  private take(n: number): Buffer {
    const whole = this.peek(n)
    const rest = whole.subarray(n)
    this.parts[0] = rest
    if (rest.byteLength === 0) this.parts.shift()
    this.held -= n
    return whole.subarray(0, n)
  }
}
