import { ByteQueue } from '../util/byte-queue.js'

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

/** Splits the bytes of a stream into whole messages as they arrive. */
export class FrameDecoder {
  private readonly bytes = new ByteQueue()

  constructor(private readonly maxMessageBytes: number) {}

  /** Bytes of an unfinished message; non-zero when a stream ends means it was cut short. */
  get pending(): number { return this.bytes.length }

  *push(chunk: Buffer): Generator<Buffer> {
    this.bytes.push(chunk)
    while (this.bytes.length >= 5) {
      const head = this.bytes.peek(5)
      if (head[0] !== 0) throw new FrameError(head[0] === 1 ? 'the server sent a compressed message, which we never asked for' : `bad message flag ${head[0]}`)
      const length = head.readUInt32BE(1)
      if (length > this.maxMessageBytes) throw new FrameError(`a ${length}-byte message exceeds the ${this.maxMessageBytes}-byte limit`)
      if (this.bytes.length < 5 + length) return
      yield this.bytes.take(5 + length).subarray(5)
    }
  }
}
