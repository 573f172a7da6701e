import { ByteQueue } from '../../util/byte-queue.js'

/** HTTP/2 frames (RFC 9113 section 4 and 6): their types, flags, settings and error codes, and the 9-byte header. */

export const FrameType = {
  DATA: 0x0, HEADERS: 0x1, PRIORITY: 0x2, RST_STREAM: 0x3, SETTINGS: 0x4, PUSH_PROMISE: 0x5, PING: 0x6,
  GOAWAY: 0x7, WINDOW_UPDATE: 0x8, CONTINUATION: 0x9,
} as const

export const Flag = { END_STREAM: 0x1, ACK: 0x1, END_HEADERS: 0x4, PADDED: 0x8, PRIORITY: 0x20 } as const

export const Setting = {
  HEADER_TABLE_SIZE: 0x1, ENABLE_PUSH: 0x2, MAX_CONCURRENT_STREAMS: 0x3, INITIAL_WINDOW_SIZE: 0x4,
  MAX_FRAME_SIZE: 0x5, MAX_HEADER_LIST_SIZE: 0x6,
} as const

export const ErrorCode = {
  NO_ERROR: 0x0, PROTOCOL_ERROR: 0x1, INTERNAL_ERROR: 0x2, FLOW_CONTROL_ERROR: 0x3, SETTINGS_TIMEOUT: 0x4,
  STREAM_CLOSED: 0x5, FRAME_SIZE_ERROR: 0x6, REFUSED_STREAM: 0x7, CANCEL: 0x8, COMPRESSION_ERROR: 0x9,
  CONNECT_ERROR: 0xa, ENHANCE_YOUR_CALM: 0xb, INADEQUATE_SECURITY: 0xc, HTTP_1_1_REQUIRED: 0xd,
} as const

const errorNames = new Map<number, string>(Object.entries(ErrorCode).map(([k, v]) => [v, k]))
export const errorName = (code: number): string => errorNames.get(code) ?? `0x${code.toString(16)}`

/** What a client sends first (RFC 9113 3.4). */
export const clientPreface = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1')

export const defaultMaxFrameSize = 16_384
export const defaultWindowSize = 65_535

export interface Frame { type: number; flags: number; streamId: number; payload: Buffer }

export function frameHeader(length: number, type: number, flags: number, streamId: number): Buffer {
  const h = Buffer.allocUnsafe(9)
  h.writeUIntBE(length, 0, 3)
  h[3] = type
  h[4] = flags
  h.writeUInt32BE(streamId & 0x7fffffff, 5)
  return h
}

/** A whole frame whose payload is small enough to build in one buffer (control frames). */
export function frame(type: number, flags: number, streamId: number, payload: Buffer = Buffer.alloc(0)): Buffer {
  return Buffer.concat([frameHeader(payload.length, type, flags, streamId), payload])
}

export function u32(value: number): Buffer {
  const b = Buffer.allocUnsafe(4)
  b.writeUInt32BE(value >>> 0, 0)
  return b
}

export function settingsPayload(settings: Array<[id: number, value: number]>): Buffer {
  const b = Buffer.allocUnsafe(6 * settings.length)
  settings.forEach(([id, value], i) => { b.writeUInt16BE(id, 6 * i); b.writeUInt32BE(value >>> 0, 6 * i + 2) })
  return b
}

/** Splits the bytes of a connection into frames as they arrive. */
export class FrameReader {
  private readonly bytes = new ByteQueue()

  constructor(private readonly maxFrameSize: number) {}

  *push(chunk: Buffer): Generator<Frame> {
    this.bytes.push(chunk)
    while (this.bytes.length >= 9) {
      const length = this.bytes.peek(9).readUIntBE(0, 3)
      if (length > this.maxFrameSize) throw new Error(`a ${length}-byte frame exceeds the ${this.maxFrameSize} bytes we allow`)
      if (this.bytes.length < 9 + length) return
      const whole = this.bytes.take(9 + length)
      yield { type: whole[3] as number, flags: whole[4] as number, streamId: whole.readUInt32BE(5) & 0x7fffffff, payload: whole.subarray(9) }
    }
  }
}
