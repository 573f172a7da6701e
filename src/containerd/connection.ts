import { UnavailableError, UsageError } from '../errors.js'
import { ContainerdError, fromGrpcError, unreachable } from './errors.js'
import { FrameDecoder, framePrefix } from './grpc-frames.js'
import { codeOfHttpStatus, GrpcCode, GrpcStatusError } from './grpc-status.js'
import { scopeHeaders, type CallScope } from './metadata.js'
import type { Rpc } from './protos.js'
import { openOwnTransport } from './transport-own.js'
import {
  StreamCode, TransportError, transportKinds, type OpenTransport, type RequestHeaders, type Transport, type TransportKind,
  type TransportStream,
} from './transport.js'

export interface CallOptions {
  /** Cancels the call; the promise or stream then rejects with the signal's reason. */
  signal?: AbortSignal | undefined
  /** A deadline for this call; none by default, since reads and writes of big blobs take their time. */
  timeoutMs?: number | undefined
}

export interface OpenOptions {
  /** Give up on a socket that does not answer after this long; 3 s. */
  timeoutMs?: number | undefined
  /** Which HTTP/2 client to speak gRPC on; IPCR_GRPC_TRANSPORT, then our own. */
  transport?: TransportKind | undefined
}

/** containerd's server limit; our own messages stay far below it (1 MiB write chunks). */
const maxMessageBytes = 16 << 20
/** How much containerd may send ahead on one call and on the whole connection (reads of big blobs). */
const streamWindowBytes = 4 << 20
const connectionWindowBytes = 16 << 20

/**
 * IPCR_GRPC_TRANSPORT=own|node picks the HTTP/2 client: a switch for bench/run's A/B of the two and
 * for debugging (is it our client or containerd?), not a user setting. Unset or empty: our own.
 */
export function transportFromEnv(env: NodeJS.ProcessEnv = process.env): TransportKind {
  const value = env.IPCR_GRPC_TRANSPORT ?? ''
  if (value === '') return 'own'
  if ((transportKinds as readonly string[]).includes(value)) return value as TransportKind
  throw new UsageError(`IPCR_GRPC_TRANSPORT=${value}: expected one of ${transportKinds.join(', ')}`)
}

/** Our own client is bundled in; node:http2 is loaded only when asked for (it costs ~9 ms to load). */
async function opener(kind: TransportKind): Promise<OpenTransport> {
  return kind === 'node' ? (await import('./transport-node.js')).openNodeTransport : openOwnTransport
}

/**
 * One HTTP/2 connection to containerd's socket, shared by every service and every scoped view of the
 * client, speaking gRPC's wire protocol on an HTTP/2 client behind transport.ts: our own small one
 * (h2/) by default, or node:http2. The own client replaced node:http2, the largest start-up cost
 * left after @grpc/grpc-js had gone (see bench/run). Calls are made by path with the codecs from
 * protos.ts; failures leave here as typed errors (errors.ts).
 */
export class Connection {
  private constructor(readonly socketPath: string, private readonly transport: Transport) {}

  /**
   * Connect and wait for containerd's HTTP/2 settings, so a socket nobody serves fails here, fast
   * (timeoutMs, default 3 s), with UnavailableError saying why: ENOENT, ECONNREFUSED, EACCES or silence.
   */
  static async open(socketPath: string, opts: OpenOptions = {}): Promise<Connection> {
    const { timeoutMs = 3000 } = opts
    const open = await opener(opts.transport ?? transportFromEnv())
    const silence = new AbortController()
    const timer = setTimeout(() => silence.abort(unreachable(socketPath, `no gRPC answer within ${timeoutMs} ms`)), timeoutMs)
    try {
      const transport = await open(socketPath, { streamWindow: streamWindowBytes, connectionWindow: connectionWindowBytes, signal: silence.signal })
      return new Connection(socketPath, transport)
    } catch (err) {
      if (err instanceof UnavailableError) throw err
      const reason = err instanceof TransportError ? 'the connection closed before containerd answered' : socketErrorReason(err as NodeJS.ErrnoException)
      throw unreachable(socketPath, reason, err)
    } finally {
      clearTimeout(timer)
    }
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
    this.transport.close()
  }

  private start(path: string, scope: CallScope, opts: CallOptions): GrpcCall {
    const headers: Array<RequestHeaders[number]> = [
      [':method', 'POST'], [':scheme', 'http'], [':path', path], [':authority', 'localhost'],
      ['content-type', 'application/grpc'], ['te', 'trailers'], ...Object.entries(scopeHeaders(scope)),
    ]
    // The server enforces the deadline too; "m" is milliseconds in gRPC's timeout syntax.
    if (opts.timeoutMs !== undefined) headers.push(['grpc-timeout', `${Math.max(1, Math.ceil(opts.timeoutMs))}m`])
    let stream: TransportStream
    try {
      stream = this.transport.request(headers)
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
  /** Set when we end the call ourselves (deadline, abort, early exit): what the caller is told. */
  private stopped: GrpcStatusError | undefined
  private readonly timer: NodeJS.Timeout | undefined
  private readonly onAbort = (): void => this.cancel()

  constructor(private readonly stream: TransportStream, private readonly opts: CallOptions) {
    if (opts.timeoutMs !== undefined) {
      this.timer = setTimeout(() => this.cancel(new GrpcStatusError(GrpcCode.DEADLINE_EXCEEDED, 'Deadline exceeded')), opts.timeoutMs)
    }
    opts.signal?.addEventListener('abort', this.onAbort, { once: true })
  }

  /** One message, whole or in pieces (written one after another, not joined). */
  write(message: Uint8Array | readonly Uint8Array[]): void {
    if (message instanceof Uint8Array) this.stream.write(framePrefix(message.byteLength), message)
    else this.stream.write(framePrefix(message.reduce((n, p) => n + p.byteLength, 0)), ...message)
  }

  /** Send the last message (or none) and half-close. */
  end(message?: Buffer): void {
    if (message !== undefined) this.write(message)
    this.stream.end()
  }

  /** The answers as they arrive; after the last one, a status other than OK is thrown. */
  async *messages(): AsyncGenerator<Buffer> {
    const frames = new FrameDecoder(maxMessageBytes)
    try {
      for await (const chunk of this.stream) yield* frames.push(chunk)
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
    this.stream.cancel()
  }

  release(): void {
    clearTimeout(this.timer)
    this.opts.signal?.removeEventListener('abort', this.onAbort)
  }

  /** The status from the trailers, or from the headers of a trailers-only answer. */
  private status(): { code: number; details: string } {
    const from = this.stream.trailers ?? this.stream.headers
    if (from === undefined) return { code: GrpcCode.UNAVAILABLE, details: 'the stream closed without an answer' }
    const code = from['grpc-status']
    if (code === undefined) {
      const http = Number(this.stream.headers?.[':status'] ?? 0)
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
    this.call.write(this.rpc.serializeParts(req))
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
  if (err instanceof TransportError) {
    const lost = err.code === StreamCode.REFUSED_STREAM || err.code === StreamCode.CONNECT_ERROR
    return new GrpcStatusError(lost ? GrpcCode.UNAVAILABLE : err.code === StreamCode.CANCEL ? GrpcCode.CANCELLED : GrpcCode.INTERNAL, err.message)
  }
  return new GrpcStatusError(GrpcCode.UNAVAILABLE, (err as Error).message ?? String(err))
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
    // Hung up on before answering: our preface met a closed socket.
    case 'EPIPE': case 'ECONNRESET': return 'the connection closed before containerd answered'
    default: return err.message
  }
}
