// One suite, run against both HTTP/2 clients behind src/containerd/transport.ts (our own h2/ and
// node:http2), through connection.ts as containerd's services use it: unary calls, server streams,
// ordered client streams past every flow-control window, statuses in trailers, cancellation,
// deadlines, servers that refuse, reset or go away. The servers are independent implementations:
// grpc-js for gRPC, and Node's http2 server for what grpc-js will not do (the NO_ERROR reset that
// containerd's Content.Write ends with, non-gRPC answers, a socket torn down mid-answer).
import { createHash, randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import http2 from 'node:http2'
import { createServer, type Server as NetServer, type Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import {
  Metadata, Server, ServerCredentials, status, type MethodDefinition, type sendUnaryData, type ServerDuplexStream,
  type ServerUnaryCall, type ServerWritableStream,
} from '@grpc/grpc-js'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { NotFoundError, UnavailableError, UsageError } from '../../src/errors.js'
import { Connection, transportFromEnv } from '../../src/containerd/connection.js'
import { AlreadyExistsError, ContainerdError } from '../../src/containerd/errors.js'
import { H2Session } from '../../src/containerd/h2/session.js'
import type { Rpc } from '../../src/containerd/protos.js'
import { transportKinds, type TransportKind } from '../../src/containerd/transport.js'

const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex')
const bytes = (path: string): Rpc<Buffer, Buffer> => ({ path, serialize: (b) => b, serializeParts: (b) => [b], deserialize: (b) => b })
const json = (value: unknown): Buffer => Buffer.from(JSON.stringify(value))
const scope = { namespace: 'unit' }
const MiB = 1 << 20

/** A promise and its resolver, for events the tests wait on (no sleeps). */
function signal<T = void>(): { promise: Promise<T>; resolve: (value: T) => void } {
  let resolve!: (value: T) => void
  const promise = new Promise<T>((r) => { resolve = r })
  return { promise, resolve }
}

let dir: string

// --- a gRPC server (grpc-js) of methods that exercise what containerd's services do --------------
const method = (name: string, requestStream: boolean, responseStream: boolean): MethodDefinition<Buffer, Buffer> => ({
  path: `/ipcr.test.T/${name}`, requestStream, responseStream,
  requestSerialize: (b) => b, requestDeserialize: (b) => b, responseSerialize: (b) => b, responseDeserialize: (b) => b,
})
const service = {
  Echo: method('Echo', false, false), Fail: method('Fail', false, false), Silent: method('Silent', false, false),
  Stream: method('Stream', false, true), Hang: method('Hang', false, true), Digest: method('Digest', true, true),
}
/** Each call to Hang, Silent or Digest resolves the next waiter when the server sees it cancelled. */
const cancels: Array<(method: string) => void> = []
const nextCancel = (): Promise<string> => new Promise((resolve) => cancels.push(resolve))
const onCancel = (name: string) => () => cancels.shift()?.(name)

let grpcServer: Server
const grpcSocket = (): string => join(dir, 'grpc.sock')

function startGrpc(): Promise<Server> {
  const server = new Server({ 'grpc.max_receive_message_length': 16 * MiB, 'grpc.max_send_message_length': 16 * MiB })
  server.addService(service, {
    Echo: (call: ServerUnaryCall<Buffer, Buffer>, done: sendUnaryData<Buffer>) => {
      const meta = (key: string): string => call.metadata.get(key).map(String).join(',')
      done(null, json({ body: call.request.toString(), namespace: meta('containerd-namespace'), lease: meta('containerd-lease') }))
    },
    Fail: (call: ServerUnaryCall<Buffer, Buffer>, done: sendUnaryData<Buffer>) => {
      const { code, details } = JSON.parse(call.request.toString()) as { code: number; details: string }
      done({ code, details, metadata: new Metadata() })
    },
    Silent: (call: ServerUnaryCall<Buffer, Buffer>) => { call.on('cancelled', onCancel('Silent')) },
    Stream: (call: ServerWritableStream<Buffer, Buffer>) => {
      const { count, size, fail } = JSON.parse(call.request.toString()) as { count: number; size: number; fail?: { code: number; details: string } }
      for (let i = 0; i < count; i++) call.write(Buffer.alloc(size, i + 1))
      if (fail) call.emit('error', fail)
      else call.end()
    },
    Hang: (call: ServerWritableStream<Buffer, Buffer>) => {
      call.on('cancelled', onCancel('Hang'))
      call.write(Buffer.from('first'))
    },
    // Content.Write's shape: one answer per request, in order; here the digest of what arrived.
    Digest: (call: ServerDuplexStream<Buffer, Buffer>) => {
      call.on('cancelled', onCancel('Digest'))
      call.on('data', (m: Buffer) => call.write(Buffer.from(`${m.length} ${sha(m)}`)))
      call.on('end', () => call.end())
    },
  })
  return new Promise((resolve, reject) => server.bindAsync(`unix://${grpcSocket()}`, ServerCredentials.createInsecure(), (err) => err ? reject(err) : resolve(server)))
}

// --- a plain HTTP/2 server for answers grpc-js never gives ----------------------------------------
let h2Server: http2.Http2Server
/** Resolved when the server has reset a /raw/early stream. */
let earlyReset = signal()
/** Resolved with the RST_STREAM code a /raw/hang stream was closed with. */
let hangClosed = signal<number>()
const h2Sockets = new Set<Socket>()
const h2Socket = (): string => join(dir, 'h2.sock')
/** A gRPC message as it goes on the wire: a 5-byte prefix, then the message. */
function framed(message: Buffer): Buffer {
  const prefix = Buffer.alloc(5)
  prefix.writeUInt32BE(message.length, 1)
  return Buffer.concat([prefix, message])
}

function startH2(): Promise<void> {
  h2Server = http2.createServer()
  h2Server.on('connection', (socket: Socket) => { h2Sockets.add(socket); socket.on('close', () => h2Sockets.delete(socket)) })
  h2Server.on('stream', (stream, headers) => {
    stream.on('error', () => undefined) // Node reports the resets below as errors of its own stream
    const ok = { ':status': 200, 'content-type': 'application/grpc' }
    switch (headers[':path']) {
      case '/raw/refused': stream.close(http2.constants.NGHTTP2_REFUSED_STREAM); return
      case '/raw/internal': stream.close(http2.constants.NGHTTP2_INTERNAL_ERROR); return
      case '/raw/not-grpc': stream.respond({ ':status': 404 }, { endStream: true }); return
      case '/raw/cut':
        // A message promised 100 bytes, 10 sent, then a status OK: the answer is broken all the same.
        stream.respond(ok, { waitForTrailers: true })
        stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }))
        stream.end(framed(Buffer.alloc(100)).subarray(0, 15))
        return
      case '/raw/early':
        // containerd's Write: a complete answer while the upload is still coming, then RST_STREAM
        // NO_ERROR, which only asks the client to stop sending (RFC 9113 8.1). nghttp2 sends a reset
        // ahead of queued frames, so it goes once the trailers are out.
        stream.respond(ok, { waitForTrailers: true })
        stream.on('wantTrailers', () => {
          stream.sendTrailers({ 'grpc-status': '0' })
          setImmediate(() => stream.close(http2.constants.NGHTTP2_NO_ERROR))
        })
        stream.on('close', () => earlyReset.resolve())
        stream.end(framed(Buffer.from('committed')))
        return
      case '/raw/hang':
        stream.on('close', () => hangClosed.resolve(stream.rstCode))
        stream.respond(ok)
        stream.write(framed(Buffer.from('first')))
        return
      case '/raw/vanish':
        // One message, then the server's socket is torn down: no trailers, no GOAWAY.
        stream.respond(ok)
        stream.write(framed(Buffer.from('first')), () => { for (const s of h2Sockets) s.destroy() })
        return
      default: stream.respond({ ':status': 200, 'content-type': 'application/grpc', 'grpc-status': '12' }, { endStream: true })
    }
  })
  return new Promise((resolve) => h2Server.listen(h2Socket(), resolve))
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'ipcr-transport-'))
  grpcServer = await startGrpc()
  await startH2()
})

afterAll(async () => {
  grpcServer?.forceShutdown()
  for (const s of h2Sockets) s.destroy()
  await new Promise((resolve) => h2Server?.close(resolve))
  rmSync(dir, { recursive: true, force: true })
})

describe('IPCR_GRPC_TRANSPORT', () => {
  it('picks our own client unless told node, and refuses anything else', () => {
    expect(transportFromEnv({})).toBe('own')
    expect(transportFromEnv({ IPCR_GRPC_TRANSPORT: '' })).toBe('own')
    expect(transportFromEnv({ IPCR_GRPC_TRANSPORT: 'node' })).toBe('node')
    expect(transportFromEnv({ IPCR_GRPC_TRANSPORT: 'own' })).toBe('own')
    expect(() => transportFromEnv({ IPCR_GRPC_TRANSPORT: 'nghttp2' })).toThrow(UsageError)
  })
})

describe.each(transportKinds)('gRPC on the %s transport', (kind: TransportKind) => {
  let grpc: Connection
  let raw: Connection

  beforeAll(async () => {
    grpc = await Connection.open(grpcSocket(), { transport: kind })
    raw = await Connection.open(h2Socket(), { transport: kind })
  })
  afterAll(() => { grpc?.close(); raw?.close() })

  it('really is the transport asked for', () => {
    // The suite would pass twice over one client if the option were ignored.
    const transport = (grpc as unknown as { transport: object }).transport
    expect(transport instanceof H2Session).toBe(kind === 'own')
  })

  describe('unary calls', () => {
    it('sends the message and the scope\'s metadata, and returns the answer', async () => {
      const answer = await grpc.unary(bytes('/ipcr.test.T/Echo'), Buffer.from('hello ü'), { namespace: 'ns1', lease: 'l1' })
      expect(JSON.parse(answer.toString())).toEqual({ body: 'hello ü', namespace: 'ns1', lease: 'l1' })
    })

    it('answers many calls at once on one connection, each its own', async () => {
      const answers = await Promise.all(Array.from({ length: 50 }, (_, i) => grpc.unary(bytes('/ipcr.test.T/Echo'), Buffer.from(`call ${i}`), scope)))
      expect(answers.map((a) => (JSON.parse(a.toString()) as { body: string }).body)).toEqual(Array.from({ length: 50 }, (_, i) => `call ${i}`))
    })
  })

  describe('statuses in trailers', () => {
    const fail = (code: number, details: string): Promise<unknown> =>
      grpc.unary(bytes('/ipcr.test.T/Fail'), json({ code, details }), scope).catch((e: unknown) => e)

    it('maps NOT_FOUND and ALREADY_EXISTS to their errors, with the server\'s message percent-decoded', async () => {
      const missing = await fail(status.NOT_FOUND, 'image "ü/x:1": not found')
      expect(missing).toBeInstanceOf(NotFoundError)
      expect((missing as Error).message).toBe('image "ü/x:1": not found')
      expect(await fail(status.ALREADY_EXISTS, 'content sha256:ab: already exists')).toBeInstanceOf(AlreadyExistsError)
    })

    it('keeps any other code by name', async () => {
      const err = await fail(status.FAILED_PRECONDITION, 'unexpected commit digest')
      expect(err).toBeInstanceOf(ContainerdError)
      expect(err).toMatchObject({ code: 'FAILED_PRECONDITION', message: 'unexpected commit digest' })
    })

    it('fails a server stream with the status that follows its messages', async () => {
      const got: number[] = []
      const stream = grpc.serverStream(bytes('/ipcr.test.T/Stream'), json({ count: 3, size: 10, fail: { code: status.DATA_LOSS, details: 'torn' } }), scope)
      const err = await (async () => { for await (const m of stream) got.push(m[0] as number) })().catch((e: unknown) => e)
      expect(got).toEqual([1, 2, 3])
      expect(err).toMatchObject({ code: 'DATA_LOSS', message: 'torn' })
    })

    it('reads a status from the headers of a trailers-only answer (unknown method)', async () => {
      const err = await raw.unary(bytes('/raw/nothing'), Buffer.alloc(0), scope).catch((e: unknown) => e)
      expect(err).toMatchObject({ code: 'UNIMPLEMENTED' })
    })

    it('gives an answer without gRPC status the HTTP status\'s code', async () => {
      const err = await raw.unary(bytes('/raw/not-grpc'), Buffer.alloc(0), scope).catch((e: unknown) => e)
      expect(err).toBeInstanceOf(ContainerdError)
      expect(err).toMatchObject({ code: 'UNIMPLEMENTED', message: 'no gRPC status in the answer (HTTP 404)' })
    })

    it('refuses an answer cut short inside a message, even with status OK', async () => {
      const err = await raw.unary(bytes('/raw/cut'), Buffer.alloc(0), scope).catch((e: unknown) => e)
      // The 10 bytes never make a message, so the call ends with no answer at all.
      expect(err).toMatchObject({ code: 'INTERNAL' })
    })
  })

  describe('server streams', () => {
    it('delivers messages larger than every window, on streams side by side', async () => {
      // 3 x 6 MiB each: past our 4 MiB stream window, so it only finishes if reading gives window back.
      const read = async (): Promise<string[]> => {
        const out: string[] = []
        for await (const m of grpc.serverStream(bytes('/ipcr.test.T/Stream'), json({ count: 3, size: 6 * MiB }), scope)) out.push(`${m.length} ${sha(m)}`)
        return out
      }
      const expected = [1, 2, 3].map((i) => `${6 * MiB} ${sha(Buffer.alloc(6 * MiB, i))}`)
      expect(await Promise.all([read(), read()])).toEqual([expected, expected])
    })

    it('cancels the call when the reader leaves the loop early: the server sees RST_STREAM CANCEL', async () => {
      hangClosed = signal<number>()
      for await (const m of raw.serverStream(bytes('/raw/hang'), Buffer.alloc(0), scope)) {
        expect(m.toString()).toBe('first')
        break
      }
      expect(await hangClosed.promise).toBe(http2.constants.NGHTTP2_CANCEL)
    })

    it('cancels the call when the signal aborts: the reason is thrown, and the server sees it', async () => {
      const ac = new AbortController()
      const cancelled = nextCancel()
      const reason = new Error('user stop')
      const err = await (async () => {
        for await (const _ of grpc.serverStream(bytes('/ipcr.test.T/Hang'), Buffer.alloc(0), scope, { signal: ac.signal })) ac.abort(reason)
      })().catch((e: unknown) => e)
      expect(err).toBe(reason)
      expect(await cancelled).toBe('Hang')
    })
  })

  describe('ordered client streams (Content.Write)', () => {
    it('sends many large messages ahead of their answers, past every flow-control window', async () => {
      const chunks = [...Array.from({ length: 8 }, () => randomBytes(MiB)), randomBytes(6 * MiB), randomBytes(100)]
      const stream = grpc.orderedStream(bytes('/ipcr.test.T/Digest'), scope)
      const answers: string[] = []
      // Four requests ahead of their answers, as content-write.ts sends them.
      for (let i = 0; i < chunks.length; i++) {
        stream.write(chunks[i] as Buffer)
        if (i >= 3) answers.push((await stream.answer()).toString())
      }
      while (answers.length < chunks.length) answers.push((await stream.answer()).toString())
      await stream.finish()
      expect(answers).toEqual(chunks.map((c) => `${c.length} ${sha(c)}`))
    })

    it('sends a message in pieces as one message', async () => {
      const parts = [randomBytes(70_000), randomBytes(3), randomBytes(200_000)]
      const stream = grpc.orderedStream({ ...bytes('/ipcr.test.T/Digest'), serializeParts: () => parts }, scope)
      expect((await stream.send(Buffer.alloc(0))).toString()).toBe(`270003 ${sha(Buffer.concat(parts))}`)
      await stream.finish()
    })

    it('keeps a complete answer when the server then resets with NO_ERROR to stop the upload', async () => {
      earlyReset = signal()
      const stream = raw.orderedStream(bytes('/raw/early'), scope)
      stream.write(randomBytes(2 * MiB))
      // Read only once the reset is in, as from containerd: the server sent it, and an answer the
      // server sent after it on the same connection has arrived.
      await earlyReset.promise
      await raw.unary(bytes('/raw/nothing'), Buffer.alloc(0), scope).catch(() => undefined)
      expect((await stream.answer()).toString()).toBe('committed')
      stream.write(randomBytes(10)) // the server is done: dropped, not an error
      await expect(stream.finish()).resolves.toBeUndefined()
    })

    it('cancels the stream, and the server sees it', async () => {
      const cancelled = nextCancel()
      const stream = grpc.orderedStream(bytes('/ipcr.test.T/Digest'), scope)
      expect((await stream.send(Buffer.from('one'))).toString()).toBe(`3 ${sha(Buffer.from('one'))}`)
      stream.cancel()
      expect(await cancelled).toBe('Digest')
    })
  })

  describe('deadlines and resets', () => {
    it('ends a call past its deadline with UnavailableError, and the server sees it go', async () => {
      const cancelled = nextCancel()
      const err = await grpc.unary(bytes('/ipcr.test.T/Silent'), Buffer.alloc(0), scope, { timeoutMs: 50 }).catch((e: unknown) => e)
      expect(err).toBeInstanceOf(UnavailableError)
      expect((err as Error).message).toMatch(/did not answer in time/)
      expect(await cancelled).toBe('Silent')
    })

    it('fails a call the server refuses as unavailable, another it resets as internal, and goes on', async () => {
      expect(await raw.unary(bytes('/raw/refused'), Buffer.alloc(0), scope).catch((e: unknown) => e)).toBeInstanceOf(UnavailableError)
      expect(await raw.unary(bytes('/raw/internal'), Buffer.alloc(0), scope).catch((e: unknown) => e)).toMatchObject({ code: 'INTERNAL' })
      expect(await grpc.unary(bytes('/ipcr.test.T/Echo'), Buffer.from('still here'), scope)).toBeInstanceOf(Buffer)
    })

    it('rejects a call whose signal has already aborted without sending it', async () => {
      const ac = new AbortController()
      ac.abort(new Error('too late'))
      await expect(grpc.unary(bytes('/ipcr.test.T/Echo'), Buffer.alloc(0), scope, { signal: ac.signal })).rejects.toThrow('too late')
    })
  })

  describe('a server that goes away', () => {
    it('fails the call in flight and every later one with UnavailableError (socket torn down)', async () => {
      const conn = await Connection.open(h2Socket(), { transport: kind })
      const got: string[] = []
      const err = await (async () => {
        for await (const m of conn.serverStream(bytes('/raw/vanish'), Buffer.alloc(0), scope)) got.push(m.toString())
      })().catch((e: unknown) => e)
      expect(got).toEqual(['first'])
      expect(err).toBeInstanceOf(UnavailableError)
      const later = await conn.unary(bytes('/raw/x'), Buffer.alloc(0), scope).catch((e: unknown) => e)
      expect(later).toBeInstanceOf(UnavailableError)
      expect((later as Error).message).toMatch(/cannot reach containerd at .*: the connection is closed/)
      conn.close()
    })

    it('fails the call in flight with UnavailableError when the server shuts down (GOAWAY, then close)', async () => {
      const socket = join(dir, `leaving-${kind}.sock`)
      const server = new Server()
      server.addService({ Hang: service.Hang }, { Hang: (call: ServerWritableStream<Buffer, Buffer>) => call.write(Buffer.from('first')) })
      await new Promise<void>((resolve, reject) => server.bindAsync(`unix://${socket}`, ServerCredentials.createInsecure(), (e) => e ? reject(e) : resolve()))
      const conn = await Connection.open(socket, { transport: kind })
      const err = await (async () => {
        for await (const _ of conn.serverStream(bytes('/ipcr.test.T/Hang'), Buffer.alloc(0), scope)) server.forceShutdown()
      })().catch((e: unknown) => e)
      expect(err).toBeInstanceOf(UnavailableError)
      await expect(conn.unary(bytes('/ipcr.test.T/Hang'), Buffer.alloc(0), scope)).rejects.toBeInstanceOf(UnavailableError)
      conn.close()
    })
  })

  describe('opening', () => {
    it('says there is no socket', async () => {
      const err = await Connection.open(join(dir, 'none.sock'), { transport: kind }).catch((e: unknown) => e)
      expect(err).toBeInstanceOf(UnavailableError)
      expect((err as Error).message).toMatch(/none\.sock: no socket there/)
    })

    it('says the connection closed before any answer', async () => {
      const server = await listen(`closing-${kind}.sock`, (s) => s.destroy())
      const err = await Connection.open(join(dir, `closing-${kind}.sock`), { transport: kind }).catch((e: unknown) => e)
      server.close()
      expect(err).toBeInstanceOf(UnavailableError)
      expect((err as Error).message).toMatch(/the connection closed before containerd answered/)
    })

    it('gives up on a silent socket after its timeout, and hangs up', async () => {
      const hungUp = signal()
      const server = await listen(`silent-${kind}.sock`, (s) => { s.resume(); s.on('close', () => hungUp.resolve()) })
      const err = await Connection.open(join(dir, `silent-${kind}.sock`), { timeoutMs: 100, transport: kind }).catch((e: unknown) => e)
      expect(err).toBeInstanceOf(UnavailableError)
      expect((err as Error).message).toMatch(/no gRPC answer within 100 ms/)
      await hungUp.promise // the client's socket was destroyed, not left open
      server.close()
    })

    it('closes a connection: calls in flight finish, new ones are refused', async () => {
      const conn = await Connection.open(grpcSocket(), { transport: kind })
      const inFlight = conn.unary(bytes('/ipcr.test.T/Echo'), Buffer.from('last'), scope)
      conn.close()
      expect(JSON.parse((await inFlight).toString())).toMatchObject({ body: 'last' })
      await expect(conn.unary(bytes('/ipcr.test.T/Echo'), Buffer.alloc(0), scope)).rejects.toBeInstanceOf(UnavailableError)
    })
  })
})

function listen(name: string, onConnection: (socket: Socket) => void): Promise<NetServer> {
  const server = createServer(onConnection)
  return new Promise((resolve) => server.listen(join(dir, name), () => resolve(server)))
}
