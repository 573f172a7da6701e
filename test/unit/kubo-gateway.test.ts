// KuboGateway's decisions, on answers real kubo does not give on demand: a range answered from the
// wrong offset or not at all, a 404 (which leaves the gateway in use), a reply without X-Ipfs-Path.
// test/e2e/kubo-gateway.test.ts covers the gateway of a real kubo.
import { afterEach, describe, expect, it } from 'vitest'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { cidOf } from '../../src/ipfs/cid.js'
import { gatewayUrl, KuboGateway } from '../../src/ipfs/kubo-gateway.js'
import { readAll } from '../../src/oci/digest.js'

const data = Buffer.from('0123456789abcdefghij')
let server: http.Server | undefined
afterEach(() => new Promise<void>((r) => (server ? server.close(() => r()) : r())))

type Answer = (req: http.IncomingMessage, res: http.ServerResponse, path: string) => void

/** A gateway that serves `data` at any /ipfs/ path as kubo does, unless `answer` says otherwise. */
async function fakeGateway(answer?: Answer): Promise<string> {
  server = http.createServer((req, res) => {
    const path = req.url ?? '/'
    if (answer) return answer(req, res, path)
    res.setHeader('x-ipfs-path', path)
    const range = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? '')
    if (!range) return void res.end(data)
    const from = Number(range[1])
    const to = range[2] ? Number(range[2]) + 1 : data.length
    res.writeHead(206, { 'content-range': `bytes ${from}-${to - 1}/${data.length}` })
    res.end(data.subarray(from, to))
  })
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve))
  return `http://127.0.0.1:${(server!.address() as AddressInfo).port}`
}

async function open(gw: KuboGateway, o: { offset?: number; length?: number } = {}): Promise<Buffer | undefined> {
  const body = await gw.open(await cidOf(data), o)
  return body === undefined ? undefined : readAll(body)
}

describe('KuboGateway', () => {
  it('reads whole blobs and ranges (Range: bytes=N- and N-M)', async () => {
    const gw = new KuboGateway(await fakeGateway())
    expect(await open(gw)).toEqual(data)
    expect(await open(gw, { offset: 5 })).toEqual(data.subarray(5))
    expect(await open(gw, { offset: 5, length: 3 })).toEqual(data.subarray(5, 8))
    expect(gw.disabled).toBeUndefined()
    gw.close()
  })

  it('hands a range it was not given back to the RPC, and stops using the gateway', async () => {
    for (const wrong of [
      ((_req, res, path) => { res.setHeader('x-ipfs-path', path); res.end(data) }) as Answer, // 200: the range ignored
      ((_req, res, path) => { res.writeHead(206, { 'x-ipfs-path': path, 'content-range': `bytes 0-19/20` }); res.end(data) }) as Answer, // from 0
    ]) {
      const notes: string[] = []
      const gw = new KuboGateway(await fakeGateway(wrong), (m) => notes.push(m))
      expect(await open(gw, { offset: 5 })).toBeUndefined()
      expect(gw.disabled).toMatch(/did not honour the range bytes=5-/)
      expect(notes).toEqual([expect.stringMatching(/reading blobs through the RPC API instead/)])
      expect(await open(gw)).toBeUndefined() // not asked again
      gw.close()
      await new Promise<void>((r) => server!.close(() => r()))
      server = undefined
    }
  })

  it('leaves a 404 to the RPC without giving up on the gateway', async () => {
    let calls = 0
    const gw = new KuboGateway(await fakeGateway((_req, res) => { calls++; res.writeHead(404); res.end('not found') }))
    expect(await open(gw)).toBeUndefined()
    expect(await open(gw)).toBeUndefined()
    expect(calls).toBe(2)
    expect(gw.disabled).toBeUndefined()
    gw.close()
  })

  it('gives up on a server that does not say what IPFS path it served', async () => {
    const gw = new KuboGateway(await fakeGateway((_req, res) => res.end(data)))
    expect(await open(gw)).toBeUndefined()
    expect(gw.disabled).toMatch(/not an IPFS gateway/)
    gw.close()
  })

  it('takes the URL kubo writes, with localhost made 127.0.0.1', () => {
    expect(gatewayUrl('http://127.0.0.1:8080\n')).toBe('http://127.0.0.1:8080')
    expect(gatewayUrl('http://localhost:8080/')).toBe('http://127.0.0.1:8080')
    expect(() => gatewayUrl('/ip4/127.0.0.1/tcp/8080')).toThrow(/expected a URL/)
  })
})
