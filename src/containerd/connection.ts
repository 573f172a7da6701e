import { createConnection } from 'node:net'
import { Client, credentials, status, type CallOptions as GrpcCallOptions, type ClientDuplexStream } from '@grpc/grpc-js'
import { ContainerdError, fromGrpcError, isServiceError, unreachable } from './errors.js'
import { scopeMetadata, type CallScope } from './metadata.js'
import type { Rpc } from './protos.js'

export interface CallOptions {
  /** Cancels the call; the promise or stream then rejects with the signal's reason. */
  signal?: AbortSignal | undefined
  /** A deadline for this call; none by default, since reads and writes of big blobs take their time. */
  timeoutMs?: number | undefined
}

/** containerd's server limit; our own messages stay far below it (1 MiB write chunks). */
const maxMessageBytes = 16 << 20

/**
 * One gRPC channel to containerd's socket, shared by every service and every scoped view of the client.
 * Calls are made by path with the codecs from protos.ts; gRPC failures leave here as typed errors.
 */
export class Connection {
  private constructor(readonly socketPath: string, private readonly client: Client) {}

  /** Fails fast (timeoutMs, default 3 s) with UnavailableError when nothing answers on the socket. */
  static async open(socketPath: string, timeoutMs = 3000): Promise<Connection> {
    await probeSocket(socketPath, timeoutMs)
    const client = new Client(`unix://${socketPath}`, credentials.createInsecure(), {
      'grpc.max_receive_message_length': maxMessageBytes,
      'grpc.max_send_message_length': maxMessageBytes,
    })
    try {
      await new Promise<void>((resolve, reject) => {
        client.waitForReady(Date.now() + timeoutMs, (err) => (err ? reject(err) : resolve()))
      })
    } catch (err) {
      client.close()
      throw unreachable(socketPath, `no gRPC answer within ${timeoutMs} ms`, err)
    }
    return new Connection(socketPath, client)
  }

  unary<Req, Res>(rpc: Rpc<Req, Res>, req: Req, scope: CallScope, opts: CallOptions = {}): Promise<Res> {
    return new Promise<Res>((resolve, reject) => {
      const { signal } = opts
      if (signal?.aborted) return reject(signal.reason)
      const onAbort = (): void => call.cancel()
      const call = this.client.makeUnaryRequest(rpc.path, rpc.serialize, rpc.deserialize, req, scopeMetadata(scope),
        this.grpcOptions(opts), (err, res) => {
          signal?.removeEventListener('abort', onAbort)
          if (err) reject(this.mapError(err, signal))
          else if (res === undefined) reject(new ContainerdError(`${rpc.path}: empty answer`, 'INTERNAL'))
          else resolve(res)
        })
      signal?.addEventListener('abort', onAbort, { once: true })
    })
  }

  /** A server stream as an async iterable; leaving the loop early cancels the call. */
  async *serverStream<Req, Res>(rpc: Rpc<Req, Res>, req: Req, scope: CallScope, opts: CallOptions = {}): AsyncGenerator<Res> {
    const { signal } = opts
    signal?.throwIfAborted()
    const call = this.client.makeServerStreamRequest(rpc.path, rpc.serialize, rpc.deserialize, req, scopeMetadata(scope),
      this.grpcOptions(opts))
    const onAbort = (): void => call.cancel()
    signal?.addEventListener('abort', onAbort, { once: true })
    try {
      for await (const message of call) yield message as Res
    } catch (err) {
      throw this.mapError(err, signal)
    } finally {
      signal?.removeEventListener('abort', onAbort)
      call.on('error', () => {}) // the CANCELLED status that cancel() may still deliver
      call.cancel()
    }
  }

  /** A bidirectional stream used one request, one answer at a time (containerd's Content.Write). */
  lockStep<Req, Res>(rpc: Rpc<Req, Res>, scope: CallScope, opts: CallOptions = {}): LockStep<Req, Res> {
    opts.signal?.throwIfAborted()
    const call = this.client.makeBidiStreamRequest(rpc.path, rpc.serialize, rpc.deserialize, scopeMetadata(scope),
      this.grpcOptions(opts))
    return new LockStep(call, (err) => this.mapError(err, opts.signal), opts.signal)
  }

  close(): void {
    this.client.close()
  }

  private grpcOptions(opts: CallOptions): GrpcCallOptions {
    return opts.timeoutMs === undefined ? {} : { deadline: Date.now() + opts.timeoutMs }
  }

  private mapError(err: unknown, signal: AbortSignal | undefined): unknown {
    if (signal?.aborted && isServiceError(err) && err.code === status.CANCELLED) return signal.reason
    return fromGrpcError(err, this.socketPath)
  }
}

export class LockStep<Req, Res> {
  private readonly answers: AsyncIterator<Res>
  private readonly onAbort = (): void => this.call.cancel()

  constructor(
    private readonly call: ClientDuplexStream<Req, Res>,
    private readonly mapError: (err: unknown) => unknown,
    private readonly signal: AbortSignal | undefined,
  ) {
    this.answers = call[Symbol.asyncIterator]() as AsyncIterator<Res>
    signal?.addEventListener('abort', this.onAbort, { once: true })
  }

  /** Send one request and wait for its answer. */
  async send(req: Req): Promise<Res> {
    this.call.write(req)
    const next = await this.next()
    if (next.done) throw new ContainerdError('containerd closed the stream without answering', 'INTERNAL')
    return next.value
  }

  /** Half-close and wait for the final status (containerd may repeat its last answer; it is dropped). */
  async finish(): Promise<void> {
    this.call.end()
    while (!(await this.next()).done) { /* drain */ }
    this.release()
  }

  /** Give up on the stream; safe after finish() or a failure. */
  cancel(): void {
    this.release()
    this.call.on('error', () => {})
    this.call.cancel()
  }

  private async next(): Promise<IteratorResult<Res>> {
    try {
      return await this.answers.next()
    } catch (err) {
      this.release()
      throw this.mapError(err)
    }
  }

  private release(): void {
    this.signal?.removeEventListener('abort', this.onAbort)
  }
}

/** Connect to the socket once ourselves: the OS's reason (ENOENT, ECONNREFUSED, EACCES) beats gRPC's timeout. */
function probeSocket(socketPath: string, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = createConnection({ path: socketPath })
    socket.setTimeout(timeoutMs)
    socket.once('connect', () => { socket.destroy(); resolve() })
    socket.once('timeout', () => { socket.destroy(); reject(unreachable(socketPath, `no answer within ${timeoutMs} ms`)) })
    socket.once('error', (err: NodeJS.ErrnoException) => {
      socket.destroy()
      reject(unreachable(socketPath, socketErrorReason(err), err))
    })
  })
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
