// Our HTTP/2 client (src/containerd/h2) against an independent implementation: Node's http2 server
// (nghttp2) on a unix socket. nghttp2 Huffman-codes and indexes the headers it sends, so this checks
// HPACK both ways, flow control past every window in both directions, trailers, resets and cancels.
import { createHash, randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import http2 from 'node:http2'
import { connect } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { huffmanDecode } from '../../src/containerd/h2/huffman.js'
import { encodeHeaders, HpackDecoder } from '../../src/containerd/h2/hpack.js'
import { ErrorCode } from '../../src/containerd/h2/frames.js'
import { H2Error, H2Session, type H2Stream } from '../../src/containerd/h2/session.js'

let dir: string
let server: http2.Http2Server
let session: H2Session
const cancelled: number[] = []

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex')
const request = (path: string, extra: Array<[string, string]> = []): H2Stream =>
  session.request([[':method', 'POST'], [':scheme', 'http'], [':path', path], [':authority', 'localhost'], ...extra])

async function readAll(stream: H2Stream): Promise<Buffer> {
  const parts: Buffer[] = []
  for await (const chunk of stream) parts.push(chunk)
  return Buffer.concat(parts)
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'ipcr-h2-'))
  server = http2.createServer()
  server.on('stream', (stream, headers) => {
    stream.on('error', () => undefined) // Node reports the resets below as errors of its own stream
    const path = String(headers[':path'])
    if (path === '/reset') { stream.close(http2.constants.NGHTTP2_REFUSED_STREAM); return }
    if (path === '/early') {
      // A complete answer before the request ends, then RST_STREAM NO_ERROR: "stop sending" (RFC 9113 8.1).
      stream.respond({ ':status': 200 }, { waitForTrailers: true })
      // nghttp2 sends a reset ahead of queued frames, so it waits until the trailers are out.
      stream.on('wantTrailers', () => { stream.sendTrailers({ 'grpc-status': '0' }); setTimeout(() => stream.close(http2.constants.NGHTTP2_NO_ERROR), 20) })
      stream.end(Buffer.from('answer'))
      return
    }
    if (path === '/hang') { stream.on('close', () => cancelled.push(stream.rstCode)); stream.respond({ ':status': 200 }); return }
    const parts: Buffer[] = []
    stream.on('data', (c: Buffer) => parts.push(c))
    stream.on('end', () => {
      const body = Buffer.concat(parts)
      const size = Number(headers['x-size'] ?? 0)
      stream.respond({
        ':status': 200, 'content-type': 'application/grpc', 'x-echo': String(headers['x-echo'] ?? ''),
        'x-long': 'the same long value every time, so that the encoder indexes it in its dynamic table',
        'x-got': `${body.length} ${sha(body)}`,
      }, { waitForTrailers: true })
      stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0', 'grpc-message': 'all%20good' }))
      stream.end(size > 0 ? Buffer.alloc(size, 7) : undefined)
    })
  })
  const socket = join(dir, 'h2.sock')
  await new Promise<void>((resolve) => server.listen(socket, resolve))
  session = new H2Session(connect({ path: socket }), { streamWindow: 1 << 20, connectionWindow: 4 << 20 })
  await session.ready
})

afterAll(async () => {
  session.close()
  await new Promise((resolve) => server.close(resolve))
  rmSync(dir, { recursive: true, force: true })
})

describe('HPACK', () => {
  it('decodes the Huffman example of RFC 7541 C.4.1', () => {
    expect(huffmanDecode(Buffer.from('f1e3c2e5f23a6ba0ab90f4ff', 'hex'))).toBe('www.example.com')
    expect(() => huffmanDecode(Buffer.from('f1e3c2e5f23a6ba0ab90f400', 'hex'))).toThrow(/padding/)
  })

  it('reads back what it encodes, static-table names and new names alike', () => {
    const headers: Array<[string, string]> = [[':method', 'POST'], [':path', '/a/b'], ['content-type', 'application/grpc'], ['x-new', 'v'.repeat(300)]]
    expect(new HpackDecoder().decode(encodeHeaders(headers))).toEqual(headers)
  })
})

describe('H2Session against node:http2', () => {
  it('exchanges headers, a body and trailers, the server\'s dynamic table kept across requests', async () => {
    for (let i = 0; i < 3; i++) {
      const stream = request('/echo', [['x-echo', `round ${i} ü`]])
      stream.write(Buffer.from('hello'))
      stream.end()
      expect((await readAll(stream)).length).toBe(0)
      expect(stream.headers?.[':status']).toBe('200')
      expect(stream.headers?.['x-echo']).toBe(`round ${i} ü`) // header octets are latin1 both ways
      expect(stream.headers?.['x-long']).toMatch(/^the same long value/)
      expect(stream.headers?.['x-got']).toBe(`5 ${sha(Buffer.from('hello'))}`)
      expect(stream.trailers).toEqual({ 'grpc-status': '0', 'grpc-message': 'all%20good' })
      expect(stream.closed).toBe(true)
    }
  })

  it('sends and receives far more than every flow-control window, on several streams at once', async () => {
    const uploads = [0, 1, 2].map(() => randomBytes(3 << 20))
    const results = await Promise.all(uploads.map(async (up, i) => {
      const stream = request('/big', [['x-size', String((5 + i) << 20)]])
      for (let at = 0; at < up.length; at += 100_000) stream.write(up.subarray(at, at + 100_000))
      stream.end()
      const down = await readAll(stream)
      return { got: stream.headers?.['x-got'], down: down.length, ok: down.every((b) => b === 7) }
    }))
    results.forEach((r, i) => expect(r).toEqual({ got: `${3 << 20} ${sha(uploads[i] as Buffer)}`, down: (5 + i) << 20, ok: true }))
  })

  it('fails a stream the server resets, and the connection goes on', async () => {
    const stream = request('/reset')
    stream.end()
    const err = await readAll(stream).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(H2Error)
    expect((err as H2Error).code).toBe(ErrorCode.REFUSED_STREAM)
    const next = request('/echo')
    next.end()
    await readAll(next)
    expect(next.trailers?.['grpc-status']).toBe('0')
  })

  it('keeps a complete answer when the server then resets with NO_ERROR to stop the upload', async () => {
    const stream = request('/early')
    stream.write(Buffer.alloc(1 << 20))
    // Read only once the trailers and the reset are both in, as they come from containerd's Write.
    await new Promise((resolve) => setTimeout(resolve, 100))
    expect(stream.closed).toBe(true)
    expect((await readAll(stream)).toString()).toBe('answer')
    expect(stream.trailers).toEqual({ 'grpc-status': '0' })
    stream.write(Buffer.alloc(10)) // ignored: the stream is done
  })

  it('cancels a stream with RST_STREAM CANCEL, which the server sees', async () => {
    const stream = request('/hang')
    stream.write(Buffer.from('x'))
    await new Promise((resolve) => setTimeout(resolve, 50))
    stream.cancel()
    await expect(readAll(stream)).rejects.toBeInstanceOf(H2Error)
    await new Promise((resolve) => setTimeout(resolve, 50))
    expect(cancelled).toEqual([http2.constants.NGHTTP2_CANCEL])
  })
})
