import type { Socket } from 'node:net'
import {
  clientPreface, defaultMaxFrameSize, defaultWindowSize, ErrorCode, errorName, Flag, frame, frameHeader, FrameReader, FrameType,
  Setting, settingsPayload, u32, type Frame,
} from './frames.js'
import { TransportError, type RequestHeaders, type Transport, type TransportStream } from '../transport.js'
import { encodeHeaders, HpackDecoder } from './hpack.js'

/** A stream or the whole connection ended abnormally; `code` is an HTTP/2 error code. */
export class H2Error extends TransportError {
  constructor(message: string, code: number) {
    super(message, code)
    this.name = 'H2Error'
  }
}

export interface SessionOptions {
  /** How much the peer may send ahead on one stream, and on the whole connection. */
  streamWindow: number
  connectionWindow: number
}

/**
 * A client HTTP/2 connection (RFC 9113) on a socket, as small as gRPC to containerd needs: requests
 * with header and trailer blocks, data both ways under flow control, SETTINGS, PING, GOAWAY and
 * RST_STREAM; no server push, no priorities. Node's http2 module did this for us at a cost of 9 ms
 * to load (it brings tls along) and more per call than a whole `ipcr run` can spare.
 */
export class H2Session implements Transport {
  /** Resolves once the peer's first SETTINGS arrive: it speaks HTTP/2. */
  readonly ready: Promise<void>
  private readonly streams = new Map<number, H2Stream>()
  private readonly reader = new FrameReader(defaultMaxFrameSize)
  private readonly hpack = new HpackDecoder()
  private nextId = 1
  private peerStreamWindow = defaultWindowSize
  private peerMaxFrame = defaultMaxFrameSize
  /** What we may still send on the connection, and what we took in but have not yet credited back. */
  private sendWindow = defaultWindowSize
  private unacked = 0
  /** A header block still waiting for CONTINUATION frames. */
  private pendingBlock: { streamId: number; flags: number; parts: Buffer[] } | undefined
  private failure: H2Error | undefined
  private closing = false
  private settled = false
  private resolveReady!: () => void
  private rejectReady!: (err: Error) => void

  constructor(private readonly socket: Socket, private readonly options: SessionOptions) {
    this.ready = new Promise((resolve, reject) => { this.resolveReady = resolve; this.rejectReady = reject })
    this.ready.catch(() => undefined)
    socket.on('data', (chunk: Buffer) => this.receive(chunk))
    socket.on('error', (err) => this.fail(new H2Error(err.message, ErrorCode.CONNECT_ERROR), err))
    socket.on('close', () => this.fail(new H2Error('the connection closed', ErrorCode.CONNECT_ERROR)))
    socket.cork()
    socket.write(clientPreface)
    socket.write(frame(FrameType.SETTINGS, 0, 0, settingsPayload([
      [Setting.ENABLE_PUSH, 0], [Setting.INITIAL_WINDOW_SIZE, options.streamWindow],
    ])))
    if (options.connectionWindow > defaultWindowSize) {
      socket.write(frame(FrameType.WINDOW_UPDATE, 0, 0, u32(options.connectionWindow - defaultWindowSize)))
    }
    socket.uncork()
  }

  /** Open a stream with these request headers; its data follows with write() and end(). */
  request(headers: RequestHeaders): H2Stream {
    if (this.failure) throw this.failure
    if (this.closing) throw new H2Error('the connection is closing', ErrorCode.REFUSED_STREAM)
    const block = encodeHeaders(headers)
    if (block.length > this.peerMaxFrame) throw new H2Error(`request headers of ${block.length} bytes do not fit one frame`, ErrorCode.INTERNAL_ERROR)
    const id = this.nextId
    this.nextId += 2
    const stream = new H2Stream(this, id, this.peerStreamWindow)
    this.streams.set(id, stream)
    this.socket.write(Buffer.concat([frameHeader(block.length, FrameType.HEADERS, Flag.END_HEADERS, id), block]))
    return stream
  }

  /** Let the streams in flight finish, then close; the connection no longer keeps the process alive. */
  close(): void {
    this.closing = true
    this.socket.unref()
    if (this.streams.size === 0) this.socket.end()
  }

  /** Send what the stream has queued, as far as both flow-control windows allow. */
  pump(stream: H2Stream): void {
    if (this.failure) return
    this.socket.cork()
    try {
      while (stream.outbox.length > 0) {
        const next = stream.outbox[0] as Uint8Array
        if (next.length === 0) { stream.outbox.shift(); continue }
        const n = Math.min(next.length, stream.sendWindow, this.sendWindow, this.peerMaxFrame)
        if (n <= 0) break
        const last = n === next.length && stream.outbox.length === 1 && stream.endQueued
        this.socket.write(frameHeader(n, FrameType.DATA, last ? Flag.END_STREAM : 0, stream.id))
        this.socket.write(next.subarray(0, n))
        stream.sendWindow -= n
        this.sendWindow -= n
        if (n === next.length) stream.outbox.shift()
        else stream.outbox[0] = next.subarray(n)
        if (last) stream.endSent = true
      }
      if (stream.outbox.length === 0 && stream.endQueued && !stream.endSent) {
        this.socket.write(frameHeader(0, FrameType.DATA, Flag.END_STREAM, stream.id))
        stream.endSent = true
      }
    } finally {
      this.socket.uncork()
    }
    this.retireIfDone(stream)
  }

  /** The reader took `n` bytes of a stream's data: give that much window back, in batches. */
  consumed(stream: H2Stream, n: number): void {
    stream.unacked += n
    if (!stream.remoteEnded && stream.unacked >= this.options.streamWindow / 2) {
      this.socket.write(frame(FrameType.WINDOW_UPDATE, 0, stream.id, u32(stream.unacked)))
      stream.unacked = 0
    }
    this.credit(n)
  }

  /** End a stream early with RST_STREAM. */
  reset(stream: H2Stream, code: number): void {
    if (this.streams.get(stream.id) !== stream) return
    this.streams.delete(stream.id)
    if (!this.failure) this.socket.write(frame(FrameType.RST_STREAM, 0, stream.id, u32(code)))
    this.afterStreamGone()
  }

  /** Connection window for data that arrived but will never be read (a failed stream's unread data). */
  discarded(n: number): void {
    if (n > 0) this.credit(n)
  }

  private credit(n: number): void {
    this.unacked += n
    if (this.unacked >= this.options.connectionWindow / 2 && !this.failure) {
      this.socket.write(frame(FrameType.WINDOW_UPDATE, 0, 0, u32(this.unacked)))
      this.unacked = 0
    }
  }

  private retireIfDone(stream: H2Stream): void {
    if (stream.endSent && stream.remoteEnded && this.streams.get(stream.id) === stream) {
      this.streams.delete(stream.id)
      this.afterStreamGone()
    }
  }

  private afterStreamGone(): void {
    if (this.closing && this.streams.size === 0 && !this.failure) this.socket.end()
  }

  private receive(chunk: Buffer): void {
    try {
      for (const f of this.reader.push(chunk)) this.handle(f)
    } catch (err) {
      const code = err instanceof H2Error ? err.code : ErrorCode.PROTOCOL_ERROR
      if (!this.failure) this.socket.write(frame(FrameType.GOAWAY, 0, 0, Buffer.concat([u32(0), u32(code)])))
      this.fail(new H2Error(`HTTP/2 protocol error from the server: ${(err as Error).message}`, code))
      this.socket.destroy()
    }
  }

  private handle(f: Frame): void {
    if (this.pendingBlock && (f.type !== FrameType.CONTINUATION || f.streamId !== this.pendingBlock.streamId)) {
      throw new H2Error('a header block was interrupted', ErrorCode.PROTOCOL_ERROR)
    }
    switch (f.type) {
      case FrameType.DATA: return this.onData(f)
      case FrameType.HEADERS: {
        let payload = unpad(f)
        if (f.flags & Flag.PRIORITY) payload = payload.subarray(5)
        if (f.flags & Flag.END_HEADERS) return this.onHeaderBlock(f.streamId, f.flags, payload)
        this.pendingBlock = { streamId: f.streamId, flags: f.flags, parts: [payload] }
        return
      }
      case FrameType.CONTINUATION: {
        const block = this.pendingBlock
        if (!block) throw new H2Error('CONTINUATION without a header block', ErrorCode.PROTOCOL_ERROR)
        block.parts.push(f.payload)
        if (f.flags & Flag.END_HEADERS) {
          this.pendingBlock = undefined
          this.onHeaderBlock(block.streamId, block.flags, Buffer.concat(block.parts))
        }
        return
      }
      case FrameType.RST_STREAM: {
        const stream = this.streams.get(f.streamId)
        if (!stream) return
        this.streams.delete(f.streamId)
        const code = f.payload.readUInt32BE(0)
        // After a complete response, NO_ERROR only asks us to stop sending (RFC 9113 8.1): the answer stands.
        if (code === ErrorCode.NO_ERROR && stream.remoteEnded) stream.stopSending()
        else stream.fail(new H2Error(`the server reset the stream: ${errorName(code)}`, code))
        this.afterStreamGone()
        return
      }
      case FrameType.SETTINGS: return this.onSettings(f)
      case FrameType.PING:
        if (!(f.flags & Flag.ACK)) this.socket.write(frame(FrameType.PING, Flag.ACK, 0, f.payload))
        return
      case FrameType.GOAWAY: {
        const last = f.payload.readUInt32BE(0) & 0x7fffffff
        const code = f.payload.readUInt32BE(4)
        this.closing = true
        // Streams above the last one the server will process never ran: safe to retry elsewhere.
        for (const [id, stream] of this.streams) {
          if (id > last) {
            this.streams.delete(id)
            stream.fail(new H2Error(`the server is going away (${errorName(code)})`, ErrorCode.REFUSED_STREAM))
          }
        }
        this.afterStreamGone()
        return
      }
      case FrameType.WINDOW_UPDATE: {
        const increment = f.payload.readUInt32BE(0) & 0x7fffffff
        if (f.streamId === 0) {
          this.sendWindow += increment
          for (const stream of this.streams.values()) this.pump(stream)
        } else {
          const stream = this.streams.get(f.streamId)
          if (stream) { stream.sendWindow += increment; this.pump(stream) }
        }
        return
      }
      case FrameType.PUSH_PROMISE:
        throw new H2Error('server push, which we disabled', ErrorCode.PROTOCOL_ERROR)
      default:
        return // PRIORITY and unknown frame types are ignored, as RFC 9113 says
    }
  }

  private onData(f: Frame): void {
    const data = unpad(f)
    const stream = this.streams.get(f.streamId)
    // Padding, and data for a stream we are done with, are credited back at once.
    const dropped = stream ? f.payload.length - data.length : f.payload.length
    if (dropped > 0) this.credit(dropped)
    if (!stream) return
    if (data.length > 0) stream.deliver(data)
    if (f.flags & Flag.END_STREAM) { stream.remoteEnd(); this.retireIfDone(stream) }
  }

  private onHeaderBlock(streamId: number, flags: number, block: Buffer): void {
    // Decoded even for a stream we are done with: the decoder's table must follow every block.
    const fields = this.hpack.decode(block)
    const stream = this.streams.get(streamId)
    if (!stream) return
    stream.receiveHeaders(Object.fromEntries(fields))
    if (flags & Flag.END_STREAM) { stream.remoteEnd(); this.retireIfDone(stream) }
  }

  private onSettings(f: Frame): void {
    if (f.flags & Flag.ACK) return
    for (let at = 0; at + 6 <= f.payload.length; at += 6) {
      const id = f.payload.readUInt16BE(at)
      const value = f.payload.readUInt32BE(at + 2)
      if (id === Setting.INITIAL_WINDOW_SIZE) {
        const delta = value - this.peerStreamWindow
        this.peerStreamWindow = value
        for (const stream of this.streams.values()) stream.sendWindow += delta
      } else if (id === Setting.MAX_FRAME_SIZE) {
        this.peerMaxFrame = value
      }
    }
    this.socket.write(frame(FrameType.SETTINGS, Flag.ACK, 0))
    if (!this.settled) { this.settled = true; this.resolveReady() }
    for (const stream of this.streams.values()) this.pump(stream)
  }

  private fail(err: H2Error, cause?: Error): void {
    if (this.failure) return
    this.failure = err
    if (!this.settled) { this.settled = true; this.rejectReady(cause ?? err) }
    for (const stream of this.streams.values()) stream.fail(err)
    this.streams.clear()
  }
}

/** A frame's payload without its padding (PADDED flag: a length byte first, that many bytes at the end). */
function unpad(f: Frame): Buffer {
  if (!(f.flags & Flag.PADDED)) return f.payload
  const pad = f.payload[0] as number
  if (pad >= f.payload.length) throw new H2Error('padding longer than its frame', ErrorCode.PROTOCOL_ERROR)
  return f.payload.subarray(1, f.payload.length - pad)
}

/**
 * One request: its data goes out through write() and end(); the response's data comes in order
 * through async iteration, which gives flow-control window back as it is read. `headers` are the
 * first header block, `trailers` a second one.
 */
export class H2Stream implements TransportStream {
  headers: Record<string, string> | undefined
  trailers: Record<string, string> | undefined
  /** Data waiting for flow-control window, and whether END_STREAM follows it. */
  outbox: Uint8Array[] = []
  endQueued = false
  endSent = false
  remoteEnded = false
  unacked = 0
  private readonly inbox: Buffer[] = []
  private failure: H2Error | undefined
  private wake: (() => void) | undefined

  constructor(private readonly session: H2Session, readonly id: number, public sendWindow: number) {}

  /** Whether nothing more can happen on the stream: both sides ended, or it was reset. */
  get closed(): boolean { return this.failure !== undefined || (this.endSent && this.remoteEnded) }

  /** Queue data (sent in this order, as the peer's window allows); the buffers are not copied. */
  write(...data: Uint8Array[]): void {
    if (this.endQueued || this.failure) return
    this.outbox.push(...data)
    this.session.pump(this)
  }

  /** Half-close once the queued data is out. */
  end(): void {
    if (this.endQueued || this.failure) return
    this.endQueued = true
    this.session.pump(this)
  }

  /** Reset the stream (RST_STREAM with `code`, CANCEL by default); reading then ends with `reason`. */
  cancel(reason: H2Error = new H2Error('cancelled', ErrorCode.CANCEL)): void {
    if (this.closed) return
    this.session.reset(this, reason.code)
    this.fail(reason)
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<Buffer> {
    for (;;) {
      const next = this.inbox.shift()
      if (next !== undefined) {
        this.session.consumed(this, next.length)
        yield next
        continue
      }
      if (this.failure) throw this.failure
      if (this.remoteEnded) return
      await new Promise<void>((resolve) => { this.wake = resolve })
    }
  }

  /** @internal The session hands over data, headers, the end and failures. */
  deliver(data: Buffer): void { this.inbox.push(data); this.notify() }
  receiveHeaders(fields: Record<string, string>): void {
    if (this.headers === undefined) this.headers = fields
    else this.trailers = fields
  }
  remoteEnd(): void { this.remoteEnded = true; this.notify() }
  stopSending(): void { this.outbox = []; this.endQueued = true; this.endSent = true }
  fail(err: H2Error): void {
    if (this.failure || (this.endSent && this.remoteEnded)) return
    this.failure = err
    this.outbox = []
    this.session.discarded(this.inbox.reduce((n, b) => n + b.length, 0))
    this.inbox.length = 0
    this.notify()
  }

  private notify(): void {
    const wake = this.wake
    this.wake = undefined
    wake?.()
  }
}
