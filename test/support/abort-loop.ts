// Clients that hang up mid-response, for the servers' abort tests (ipfs serve, registry serve):
// raw sockets that send a GET, read some bytes of the answer and destroy the connection.
import { connect } from 'node:net'
import { prngBytes } from '../../src/testkit/index.js'

/**
 * Send a GET on a raw socket to `base` (an http:// URL), read `keep` bytes of the response (0: none
 * at all) and destroy the socket. Resolves with what arrived once the socket is closed, whichever side closed it.
 */
export function abortAfter(base: string, path: string, keep: number): Promise<number> {
  const { hostname, port } = new URL(base)
  return new Promise((resolve) => {
    let got = 0
    const sock = connect(Number(port), hostname)
    sock.on('error', () => undefined) // a refused or reset connection still ends in 'close'
    sock.on('close', () => resolve(got))
    sock.on('connect', () => {
      // Connection: close, so that a whole response (keep beyond its end) ends in a close, not a kept-alive socket.
      sock.write(`GET ${path} HTTP/1.1\r\nHost: ${hostname}\r\nConnection: close\r\n\r\n`, () => { if (keep === 0) sock.destroy() })
    })
    sock.on('data', (b: Buffer) => {
      got += b.byteLength
      if (got >= keep) sock.destroy()
    })
  })
}

/** `count` seeded abort points: every fifth before any byte, every fifth inside the headers, the rest mid-body. */
export function abortPoints(seed: string, bodySize: number, count: number): number[] {
  const r = prngBytes(seed, 4 * count)
  return Array.from({ length: count }, (_, i) => {
    const u = r.readUInt32LE(4 * i) / 2 ** 32
    if (i % 5 === 0) return 0
    if (i % 5 === 1) return 1 + Math.floor(u * 200)
    return 1 + Math.floor(u * bodySize)
  })
}
