/**
 * The HTTP/2 client that connection.ts speaks gRPC on, as an interface of what it needs and no more:
 * a connection on a unix socket, requests with a header list, data out under flow control, data,
 * headers and trailers in, cancel, close. Two implementations sit behind it, our own small client
 * (transport-own.ts over h2/) and node:http2 (transport-node.ts); test/unit/transport.test.ts runs
 * one suite against both, and bench/run times `ipcr run` on each (IPCR_GRPC_TRANSPORT).
 */

export type TransportKind = 'own' | 'node'
export const transportKinds: readonly TransportKind[] = ['own', 'node']

/** A request's header block in order, pseudo-headers first; names in lower case. */
export type RequestHeaders = ReadonlyArray<readonly [string, string]>

/** A received header block; a repeated field's values joined by ", ". */
export type ResponseFields = Readonly<Record<string, string>>

export interface TransportOptions {
  /** How much the server may send ahead on one stream, and on the whole connection. */
  streamWindow: number
  connectionWindow: number
  /** Gives up on connecting: the socket is destroyed and open rejects with the signal's reason. */
  signal?: AbortSignal | undefined
}

/**
 * Opens a connection and resolves once the server's first SETTINGS arrived (it speaks HTTP/2).
 * Rejects with the socket's own error (ENOENT, ECONNREFUSED, EACCES), with a TransportError when
 * the connection closed before the settings, or with the signal's reason.
 */
export type OpenTransport = (socketPath: string, options: TransportOptions) => Promise<Transport>

export interface Transport {
  /** Start a request; throws TransportError once the connection is closing or lost. */
  request(headers: RequestHeaders): TransportStream
  /** Let the streams in flight finish, then close; the connection no longer keeps the process alive. */
  close(): void
}

/**
 * One request. Its data goes out through write() and end(), queued without copying and sent as the
 * server's windows allow; the response's data comes in order through async iteration, which gives
 * window back as it is read and throws a TransportError when the stream is reset or the connection
 * lost. `headers` are the response's first header block, `trailers` a second one.
 */
export interface TransportStream extends AsyncIterable<Buffer> {
  readonly headers: ResponseFields | undefined
  readonly trailers: ResponseFields | undefined
  /** Nothing more can happen: both sides ended, or the stream was reset or lost. */
  readonly closed: boolean
  /** Ignored once the stream has ended or failed. */
  write(...data: Uint8Array[]): void
  /** Half-close once the queued data is out. */
  end(): void
  /** RST_STREAM CANCEL; reading then fails with a TransportError whose code is CANCEL. */
  cancel(): void
}

/** HTTP/2 error codes (RFC 9113 section 7) a TransportError may carry that callers tell apart. */
export const StreamCode = {
  NO_ERROR: 0x0, PROTOCOL_ERROR: 0x1, INTERNAL_ERROR: 0x2, REFUSED_STREAM: 0x7, CANCEL: 0x8, CONNECT_ERROR: 0xa,
} as const

/**
 * A stream or the whole connection ended abnormally. `code` is an HTTP/2 error code: the peer's
 * RST_STREAM or GOAWAY code, REFUSED_STREAM for a stream the server never ran, CONNECT_ERROR for a
 * connection lost under it.
 */
export class TransportError extends Error {
  constructor(message: string, readonly code: number) {
    super(message)
    this.name = 'TransportError'
  }
}
