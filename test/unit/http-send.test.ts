import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import http from 'node:http'
import { connect } from 'node:net'
import type { AddressInfo } from 'node:net'
import { sendBody, type ResponseBody, type SendOutcome } from '../../src/util/http-send.js'

const chunk = 64 * 1024
/** Far more than socket buffers hold: a producer that is not stopped runs on long after the client left. */
const chunks = 4096

/** What the next request's handler sends, and where its outcome goes. */
let body: () => ResponseBody
let sent: Promise<SendOutcome>
let server: http.Server
let port: number
const rejections: unknown[] = []
const onRejection = (reason: unknown): void => { rejections.push(reason) }

beforeAll(async () => {
  process.on('unhandledRejection', onRejection)
  server = http.createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/octet-stream' })
    sent = sendBody(res, body())
    sent.catch(() => undefined) // asserted by the test that expects it
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  port = (server.address() as AddressInfo).port
})

afterAll(async () => {
  process.off('unhandledRejection', onRejection)
  await new Promise((resolve) => { server.close(resolve); server.closeAllConnections() })
})

afterEach(() => {
  expect(rejections).toEqual([])
})

/** GET on a raw socket; read `keep` bytes (Infinity: all) and hang up. Resolves with the bytes once closed. */
function get(keep: number): Promise<Buffer> {
  return new Promise((resolve) => {
    const got: Buffer[] = []
    let n = 0
    const sock = connect(port, '127.0.0.1', () => sock.write('GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n'))
    sock.on('error', () => undefined)
    sock.on('data', (b: Buffer) => { got.push(b); n += b.byteLength; if (n >= keep) sock.destroy() })
    sock.on('close', () => resolve(Buffer.concat(got)))
  })
}

function deferred(): { promise: Promise<void>; resolve(): void } {
  let resolve = (): void => undefined
  const promise = new Promise<void>((r) => { resolve = r })
  return { promise, resolve }
}

describe('sendBody', () => {
  it('sends a streamed body whole, pulling it as the client reads', async () => {
    let pulled = 0
    body = () => (async function* () { for (let i = 0; i < 64; i++) { pulled++; yield Buffer.alloc(chunk, i) } })()
    const res = await get(Infinity)
    expect(await sent).toBe('sent')
    expect(pulled).toBe(64)
    const text = res.toString('latin1')
    expect(text).toMatch(/^HTTP\/1\.1 200 OK\r\n/)
    expect(text.endsWith('0\r\n\r\n')).toBe(true) // the chunked body's terminator: the response is complete
  })

  it('stops the producer when the client hangs up mid-body, and its finally runs', async () => {
    let pulled = 0
    const stopped = deferred()
    body = () => (async function* () {
      try {
        for (let i = 0; i < chunks; i++) { pulled++; yield Buffer.alloc(chunk) }
      } finally {
        stopped.resolve()
      }
    })()
    await get(3 * chunk)
    expect(await sent).toBe('gone')
    await stopped.promise
    expect(pulled).toBeLessThan(chunks)
  })

  it('returns at once when the client leaves while the producer waits, and stops the producer when it resumes', async () => {
    const waiting = deferred()
    const gate = deferred()
    const stopped = deferred()
    let resumedPastGate = false
    body = () => (async function* () {
      try {
        yield Buffer.from('first')
        waiting.resolve()
        await gate.promise
        yield Buffer.from('second')
        resumedPastGate = true
        yield Buffer.from('third')
      } finally {
        stopped.resolve()
      }
    })()
    const client = get(1)
    await waiting.promise
    await client
    expect(await sent).toBe('gone')
    gate.resolve()
    await stopped.promise
    expect(resumedPastGate).toBe(false)
  })

  it('raises nothing when a producer that the client left fails afterwards', async () => {
    const waiting = deferred()
    const gate = deferred()
    body = () => (async function* () {
      yield Buffer.from('first')
      waiting.resolve()
      await gate.promise
      throw new Error('the store went away too')
    })()
    const client = get(1)
    await waiting.promise
    await client
    expect(await sent).toBe('gone')
    gate.resolve()
    // Let the producer's rejection reach the event loop; afterEach asserts that none went unhandled.
    await new Promise((resolve) => setImmediate(resolve))
  })

  it('cuts the connection when the producer fails mid-body, so the client never sees a complete response', async () => {
    body = () => (async function* () {
      yield Buffer.from('partial')
      throw new Error('block missing')
    })()
    const res = await get(Infinity)
    await expect(sent).rejects.toThrow('block missing')
    // Whatever got out before the cut (here often nothing: the headers were still buffered), never the terminator.
    expect(res.toString('latin1').endsWith('0\r\n\r\n')).toBe(false)
  })

  it('sends bytes in memory and empty bodies', async () => {
    body = () => Buffer.from('hello')
    expect((await get(Infinity)).toString('latin1')).toMatch(/\r\n\r\n5\r\nhello\r\n0\r\n\r\n$/)
    expect(await sent).toBe('sent')
    body = () => undefined
    expect((await get(Infinity)).toString('latin1')).toMatch(/\r\n\r\n0\r\n\r\n$/)
    expect(await sent).toBe('sent')
  })

  it('lets go of each chunk once it is written: a long body is never held whole until the response ends', async () => {
    const { setFlagsFromString } = await import('node:v8')
    const { runInNewContext } = await import('node:vm')
    setFlagsFromString('--expose-gc')
    const gc = runInNewContext('gc') as () => void
    const first: Array<WeakRef<Uint8Array>> = []
    let release: () => void = () => undefined
    const gate = new Promise<void>((resolve) => { release = resolve })
    body = () => (async function* () {
      for (let i = 0; i < 64; i++) {
        const c = new Uint8Array(chunk).fill(i)
        if (i < 8) first.push(new WeakRef(c))
        yield c
      }
      await gate // the response is still open while the early chunks are checked
      yield new Uint8Array(1)
    })()
    const socket = connect(port, '127.0.0.1')
    socket.write('GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')
    let received = 0
    await new Promise<void>((resolve) => socket.on('data', (b: Buffer) => { received += b.byteLength; if (received >= 64 * chunk) resolve() }))
    for (let i = 0; i < 3; i++) { gc(); await new Promise((r) => setImmediate(r)) }
    // Before the fix every chunk stayed reachable from a race on the response's end until it ended.
    expect(first.filter((w) => w.deref() !== undefined)).toHaveLength(0)
    release()
    await new Promise((resolve) => socket.on('close', resolve))
    expect(await sent).toBe('sent')
  })
})
