import http2, { type ClientHttp2Session, type ClientHttp2Stream, type IncomingHttpHeaders, type OutgoingHttpHeaders } from 'node:http2'
import { connect } from 'node:net'
import {
  StreamCode, TransportError, type OpenTransport, type RequestHeaders, type ResponseFields, type Transport, type TransportStream,
} from './transport.js'

/**
 * node:http2 behind the transport interface. Loaded only when chosen (connection.ts imports it
 * dynamically): node:http2 takes ~9 ms to load, as it brings tls along.
 */
export const openNodeTransport: OpenTransport = (socketPath, options) => new Promise<Transport>((resolve, reject) => {
  const { signal } = options
  signal?.throwIfAborted()
  const state = { lost: false }
  const session = http2.connect('http://localhost', {
    createConnection: () => {
      const socket = connect({ path: socketPath })
      // Registered before the session's own listener, so streams it closes see the loss.
      socket.once('close', () => { state.lost = true })
      return socket
    },
    settings: { enablePush: false, initialWindowSize: options.streamWindow },
    maxSessionMemory: 64,
  })
  const settle = (err?: unknown): void => {
    session.off('error', settle).off('close', onClose).off('remoteSettings', onSettings)
    signal?.removeEventListener('abort', onAbort)
    if (err === undefined) { resolve(new NodeTransport(session, options.connectionWindow, state)); return }
    session.destroy()
    reject(err)
  }
  const onClose = (): void => settle(new TransportError('the connection closed before the server answered', StreamCode.CONNECT_ERROR))
  const onSettings = (): void => settle()
  const onAbort = (): void => settle(signal?.reason)
  session.on('error', settle).on('close', onClose).on('remoteSettings', onSettings)
  signal?.addEventListener('abort', onAbort, { once: true })
})

class NodeTransport implements Transport {
  private readonly active = new Set<ClientHttp2Stream>()
  private closing = false

  constructor(private readonly session: ClientHttp2Session, connectionWindow: number, private readonly state: { lost: boolean }) {
    // A dead connection fails every stream in flight; without a listener its error would crash us.
    session.on('error', () => undefined)
    session.setLocalWindowSize(connectionWindow)
  }

  /** Whether the connection broke under its streams (socket closed, or GOAWAY with an error): what a failing stream is told. */
  get lost(): boolean { return this.state.lost || this.session.destroyed }

  request(headers: RequestHeaders): TransportStream {
    if (this.lost) throw new TransportError('the connection closed', StreamCode.CONNECT_ERROR)
    if (this.closing) throw new TransportError('the connection is closing', StreamCode.REFUSED_STREAM)
    const out: OutgoingHttpHeaders = {}
    for (const [name, value] of headers) out[name] = value
    const stream = this.session.request(out)
    this.active.add(stream)
    stream.once('close', () => {
      this.active.delete(stream)
      if (this.closing && this.active.size === 0) this.session.close()
    })
    return new NodeStream(stream, this)
  }

  close(): void {
    this.closing = true
    this.session.unref()
    // Not session.close() at once: its GOAWAY makes nghttp2 refuse requests whose headers are still queued.
    if (this.active.size === 0) this.session.close()
  }
}

class NodeStream implements TransportStream {
  headers: ResponseFields | undefined
  trailers: ResponseFields | undefined
  private cancelled = false

  constructor(private readonly stream: ClientHttp2Stream, private readonly transport: NodeTransport) {
    stream.once('response', (h) => { this.headers = fields(h) })
    stream.once('trailers', (t) => { this.trailers = fields(t) })
    // Failures surface through iteration; a stream no one reads yet must not crash the process.
    stream.on('error', () => undefined)
  }

  get closed(): boolean { return this.stream.closed || this.stream.destroyed }

  write(...data: Uint8Array[]): void {
    if (this.stream.writableEnded || this.stream.destroyed) return
    for (const d of data) this.stream.write(d)
  }

  end(): void {
    if (!this.stream.writableEnded && !this.stream.destroyed) this.stream.end()
  }

  cancel(): void {
    if (this.closed) return
    this.cancelled = true
    this.stream.close(http2.constants.NGHTTP2_CANCEL)
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<Buffer> {
    try {
      for await (const chunk of this.stream) yield chunk as Buffer
    } catch (err) {
      throw this.failure(err)
    }
    // Node ends the data without an error when it closes a stream itself (we cancelled, or the
    // socket closed under it: CANCEL); a stream that ended as it should has no code or NO_ERROR.
    const code = this.stream.rstCode
    if (this.cancelled || (code !== undefined && code !== StreamCode.NO_ERROR)) throw this.failure(undefined)
  }

  private failure(err: unknown): TransportError {
    if (this.cancelled) return new TransportError('cancelled', StreamCode.CANCEL)
    if (this.transport.lost) return new TransportError('the connection closed', StreamCode.CONNECT_ERROR)
    const code = this.stream.rstCode ?? StreamCode.INTERNAL_ERROR
    return new TransportError(`the stream failed: ${(err as Error | undefined)?.message ?? `reset with code ${code}`}`, code)
  }
}

/** A header block as one string per field; Node gives numbers for :status and arrays for repeats. */
function fields(headers: IncomingHttpHeaders): ResponseFields {
  const out: Record<string, string> = {}
  for (const [name, value] of Object.entries(headers)) {
    if (value !== undefined) out[name] = Array.isArray(value) ? value.join(', ') : String(value)
  }
  return out
}
