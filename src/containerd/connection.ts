import http2, { type ClientHttp2Session, type ClientHttp2Stream, type IncomingHttpHeaders } from 'node:http2'
import { connect } from 'node:net'
import { ContainerdError, fromGrpcError, unreachable } from './errors.js'
import { FrameDecoder, framePrefix } from './grpc-frames.js'
import { codeOfHttpStatus, GrpcCode, GrpcStatusError } from './grpc-status.js'
import { scopeHeaders, type CallScope } from './metadata.js'
import type { Rpc } from './protos.js'

export interface CallOptions {
  /** Cancels the call; the promise or stream then rejects with the signal's reason. */
  signal?: AbortSignal | undefined
  /** A deadline for this call; none by default, since reads and writes of big blobs take their time. */
  timeoutMs?: number | undefined
}

/** containerd's server limit; our own messages stay far below it (1 MiB write chunks). */
const maxMessageBytes = 16 << 20
/** How much containerd may send ahead on one call and on the whole connection (reads of big blobs). */
const streamWindowBytes = 4 << 20
const connectionWindowBytes = 16 << 20

/**
 * One HTTP/2 connection to containerd's socket, shared by every service and every scoped view of the
 * client, speaking gRPC's wire protocol directly on node:http2. It replaced @grpc/grpc-js, whose
 * loading alone took longer than all the calls of an `ipcr run` (see bench/run). Calls are made by
 * path with the codecs from protos.ts; failures leave here as typed errors (errors.ts).
 */
export class Connection {
  private constructor(readonly socketPath: string, private readonly session: ClientHttp2Session) {
    // A dead connection fails every call in flight through its stream; this keeps it from crashing us.
    session.on('error', () => undefined)
  }

  /**
   * Connect and wait for containerd's HTTP/2 settings, so a socket nobody serves fails here, fast
   * (timeoutMs, default 3 s), with UnavailableError saying why: ENOENT, ECONNREFUSED, EACCES or silence.
   */
  static async open(socketPath: string, timeoutMs = 3000): Promise<Connection> {
    const session = await new Promise<ClientHttp2Session>((resolve, reject) => {
      const s = http2.connect('http://localhost', {
        createConnection: () => connect({ path: socketPath }),
        settings: { enablePush: false, initialWindowSize: streamWindowBytes },
        maxSessionMemory: 64,
      })
      const settle = (err?: Error): void => {
        clearTimeout(timer)
        s.off('error', onError).off('close', onClose).off('remoteSettings', onSettings)
        if (err === undefined) return resolve(s)
        s.destroy()
        reject(err)
      }
      const onError = (err: NodeJS.ErrnoException): void => settle(unreachable(socketPath, socketErrorReason(err), err))
      const onClose = (): void => settle(unreachable(socketPath, 'the connection closed before containerd answered'))
      const onSettings = (): void => settle()
      const timer = setTimeout(() => settle(unreachable(socketPath, `no gRPC answer within ${timeoutMs} ms`)), timeoutMs)
      s.on('error', onError).on('close', onClose).on('remoteSettings', onSettings)
    })
    session.setLocalWindowSize(connectionWindowBytes)
    return new Connection(socketPath, session)
  }

  async unary<Req, Res>(rpc: Rpc<Req, Res>, req: Req, scope: CallScope, opts: CallOptions = {}): Promise<Res> {
    opts.signal?.throwIfAborted()
    const call = this.start(rpc.path, scope, opts)
    try {
      call.end(rpc.serialize(req))
      let answer: Buffer | undefined
      for await (const message of call.messages()) answer ??= message
      if (answer === undefined) throw new ContainerdError(`${rpc.path}: empty answer`, 'INTERNAL')
      return rpc.deserialize(answer)
    } catch (err) {
      throw this.mapError(err, opts.signal)
    } finally {
      call.release()
    }
  }

  /** A server stream as an async iterable; leaving the loop early cancels the call. */
  async *serverStream<Req, Res>(rpc: Rpc<Req, Res>, req: Req, scope: CallScope, opts: CallOptions = {}): AsyncGenerator<Res> {
    opts.signal?.throwIfAborted()
    const call = this.start(rpc.path, scope, opts)
    try {
      call.end(rpc.serialize(req))
      for await (const message of call.messages()) yield rpc.deserialize(message)
    } catch (err) {
      throw this.mapError(err, opts.signal)
    } finally {
      call.cancel()
      call.release()
    }
  }

  /** A bidirectional stream answered one answer per request, in order (containerd's Content.Write). */
  orderedStream<Req, Res>(rpc: Rpc<Req, Res>, scope: CallScope, opts: CallOptions = {}): OrderedStream<Req, Res> {
    opts.signal?.throwIfAborted()
    return new OrderedStream(this.start(rpc.path, scope, opts), rpc, (err) => this.mapError(err, opts.signal))
  }

  /** Let the calls in flight finish, then close; the connection no longer keeps the process alive. */
  close(): void {
    this.session.close()
    this.session.unref()
  }

  private start(path: string, scope: CallScope, opts: CallOptions): GrpcCall {
    const headers: http2.OutgoingHttpHeaders = {
      ':method': 'POST', ':path': path, 'content-type': 'application/grpc', te: 'trailers', ...scopeHeaders(scope),
    }
    // The server enforces the deadline too; "m" is milliseconds in gRPC's timeout syntax.
    if (opts.timeoutMs !== undefined) headers['grpc-timeout'] = `${Math.max(1, Math.ceil(opts.timeoutMs))}m`
    let stream: ClientHttp2Stream
    try {
      stream = this.session.request(headers)
    } catch (err) {
      throw unreachable(this.socketPath, `the connection is closed (${(err as Error).message})`, err)
    }
    return new GrpcCall(stream, opts)
  }

  private mapError(err: unknown, signal: AbortSignal | undefined): unknown {
    if (signal?.aborted) return signal.reason
    return fromGrpcError(err, this.socketPath)
  }
}

/** One call's stream: writes framed messages, reads framed answers, and turns the end into a status. */
export class GrpcCall {
  private headers: IncomingHttpHeaders | undefined
  private trailers: IncomingHttpHeaders | undefined
  /** Set when we end the call ourselves (deadline, abort, early exit): what the caller is told. */
  private stopped: GrpcStatusError | undefined
  private readonly timer: NodeJS.Timeout | undefined
  private readonly onAbort = (): void => this.cancel()

  constructor(private readonly stream: ClientHttp2Stream, private readonly opts: CallOptions) {
    stream.once('response', (h) => { this.headers = h })
    stream.once('trailers', (t) => { this.trailers = t })
    // Errors surface through messages(); a stream no one reads yet must not crash the process.
    stream.on('error', () => undefined)
    if (opts.timeoutMs !== undefined) {
      this.timer = setTimeout(() => this.cancel(new GrpcStatusError(GrpcCode.DEADLINE_EXCEEDED, 'Deadline exceeded')), opts.timeoutMs)
    }
    opts.signal?.addEventListener('abort', this.onAbort, { once: true })
  }

  write(message: Buffer): void {
    this.stream.write(framePrefix(message.byteLength))
    this.stream.write(message)
  }

  /** Send the last message (or none) and half-close. */
  end(message?: Buffer): void {
    if (message === undefined) { this.stream.end(); return }
    this.stream.write(framePrefix(message.byteLength))
    this.stream.end(message)
  }

  /** The answers as they arrive; after the last one, a status other than OK is thrown. */
  async *messages(): AsyncGenerator<Buffer> {
    const frames = new FrameDecoder(maxMessageBytes)
    try {
      for await (const chunk of this.stream) yield* frames.push(chunk as Buffer)
    } catch (err) {
      throw this.stopped ?? streamFailure(err)
    }
    if (this.stopped) throw this.stopped
    const { code, details } = this.status()
    if (code !== GrpcCode.OK) throw new GrpcStatusError(code, details)
    if (frames.pending > 0) throw new GrpcStatusError(GrpcCode.INTERNAL, `the answer ended ${frames.pending} bytes into a message`)
  }

  /** Stop the call (RST_STREAM CANCEL); harmless once it has ended. */
  cancel(reason?: GrpcStatusError): void {
    if (this.stream.closed) return
    this.stopped ??= reason ?? new GrpcStatusError(GrpcCode.CANCELLED, 'Cancelled on client')
    this.stream.close(http2.constants.NGHTTP2_CANCEL)
  }

  release(): void {
    clearTimeout(this.timer)
    this.opts.signal?.removeEventListener('abort', this.onAbort)
  }

  /** The status from the trailers, or from the headers of a trailers-only answer. */
  private status(): { code: number; details: string } {
    const from = this.trailers ?? this.headers
    if (from === undefined) return { code: GrpcCode.UNAVAILABLE, details: 'the stream closed without an answer' }
    const code = from['grpc-status']
    if (code === undefined) {
      const http = Number(this.headers?.[':status'] ?? 0)
      return { code: http === 200 ? GrpcCode.UNKNOWN : codeOfHttpStatus(http), details: `no gRPC status in the answer (HTTP ${http})` }
    }
    return { code: Number(code), details: percentDecode(String(from['grpc-message'] ?? '')) }
  }
}

/**
 * A bidirectional stream on which the server answers every request, in order. Requests may run
 * ahead of their answers (write, then answer later), so a writer need not wait a round trip per message.
 */
export class OrderedStream<Req, Res> {
  private readonly answers: AsyncIterator<Buffer>

  constructor(private readonly call: GrpcCall, private readonly rpc: Rpc<Req, Res>, private readonly mapError: (err: unknown) => unknown) {
    this.answers = call.messages()
  }

  /** Send one request and wait for its answer (the answers to requests before it must have been taken). */
  async send(req: Req): Promise<Res> {
    this.write(req)
    return this.answer()
  }

  /** Send a request without waiting; take its answer later with answer(). */
  write(req: Req): void {
    this.call.write(this.rpc.serialize(req))
  }

  /** The next answer, to the oldest request not yet answered. */
  async answer(): Promise<Res> {
    const next = await this.next()
    if (next.done) throw new ContainerdError('containerd closed the stream without answering', 'INTERNAL')
    return this.rpc.deserialize(next.value)
  }

  /** Half-close and wait for the final status (containerd may repeat its last answer; it is dropped). */
  async finish(): Promise<void> {
    this.call.end()
    while (!(await this.next()).done) { /* drain */ }
    this.call.release()
  }

  /** Give up on the stream; safe after finish() or a failure. */
  cancel(): void {
    this.call.cancel()
    this.call.release()
  }

  private async next(): Promise<IteratorResult<Buffer>> {
    try {
      return await this.answers.next()
    } catch (err) {
      this.call.release()
      throw this.mapError(err)
    }
  }
}

/** A stream that broke without a gRPC status: reset by the server, or the connection lost. */
function streamFailure(err: unknown): GrpcStatusError {
  const e = err as NodeJS.ErrnoException
  if (e.code === 'ERR_HTTP2_STREAM_ERROR') {
    const refused = /REFUSED_STREAM/.test(e.message)
    return new GrpcStatusError(refused ? GrpcCode.UNAVAILABLE : GrpcCode.INTERNAL, e.message)
  }
  return new GrpcStatusError(GrpcCode.UNAVAILABLE, e.message ?? String(err))
}

/** grpc-message is percent-encoded UTF-8; a malformed one is shown as it came. */
function percentDecode(text: string): string {
  try { return decodeURIComponent(text) } catch { return text }
}

function socketErrorReason(err: NodeJS.ErrnoException): string {
  switch (err.code) {
    case 'ENOENT': return 'no socket there'
    case 'ECONNREFUSED': return 'connection refused (a stale socket: nothing listens on it)'
    case 'EACCES': case 'EPERM': return 'permission denied (containerd\'s socket usually needs root)'
    case 'ENOTSOCK': return 'not a socket'
    default: return err.message
  }
}
