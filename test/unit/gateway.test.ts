import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { mkdtemp } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { CarWriter } from '@ipld/car/writer'
import { cidOf, cidText, parseCid, type CID } from '../../src/ipfs/cid.js'
import { EmbeddedIpfs } from '../../src/ipfs/embedded.js'
import { GatewayIpfs, gatewayBase } from '../../src/ipfs/gateway.js'
import { gatewayHandler } from '../../src/ipfs/serve.js'
import { IntegrityError, NotFoundError, UnavailableError, UsageError } from '../../src/errors.js'
import { readAll } from '../../src/oci/digest.js'
import { MemoryBlocks } from '../support/memory-blocks.js'

const chunk = 262_144
let store: MemoryBlocks
let file: Buffer
let fileCid: CID
let leaves: string[]
const servers: http.Server[] = []

interface Seen { raw: number; car: number }

/** A gateway built from a request handler; counts the raw and CAR requests it gets. */
async function gateway(handler: (req: http.IncomingMessage, res: http.ServerResponse, next: () => void) => void): Promise<{ url: string; seen: Seen }> {
  const seen: Seen = { raw: 0, car: 0 }
  const real = gatewayHandler(store)
  const server = http.createServer((req, res) => {
    const url = req.url ?? ''
    if (url.includes('format=car')) seen.car++
    else seen.raw++
    handler(req, res, () => real(req, res))
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()))
  servers.push(server)
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen }
}

const good = (): Promise<{ url: string; seen: Seen }> => gateway((_q, _s, next) => next())
const missing = (): Promise<{ url: string; seen: Seen }> => gateway((_q, res) => { res.writeHead(404).end('not here') })

/** Flips one byte in the middle of `target`'s bytes wherever they appear in a response (raw or CAR). */
function corrupting(target: string): Promise<{ url: string; seen: Seen }> {
  const bytes = store.blocks.get(target) as Uint8Array
  const needle = Buffer.from(bytes.subarray(1000, 1064))
  return gateway((req, res, next) => {
    const chunks: Buffer[] = []
    const write = res.write.bind(res)
    const end = res.end.bind(res)
    res.write = ((c: Buffer) => { chunks.push(Buffer.from(c)); return true }) as typeof res.write
    res.end = ((c?: Buffer) => {
      if (c && typeof c !== 'function') chunks.push(Buffer.from(c))
      const body = Buffer.concat(chunks)
      const at = body.indexOf(needle)
      if (at >= 0) body[at + 10] = (body[at + 10] as number) ^ 0xff
      write(body)
      return end()
    }) as typeof res.end
    void req
    next()
  })
}

async function deadUrl(): Promise<string> {
  const s = http.createServer()
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()))
  const url = `http://127.0.0.1:${(s.address() as AddressInfo).port}`
  await new Promise<void>((r) => s.close(() => r()))
  return url
}

beforeAll(async () => {
  store = new MemoryBlocks()
  const same = randomBytes(chunk)
  file = Buffer.concat([same, randomBytes(chunk), same, randomBytes(5000)])
  leaves = []
  fileCid = await cidOf(file, { put: (cid, bytes) => { if (cid.code === 0x55) leaves.push(cidText(cid)); store.put(cid, bytes) } })
})

afterAll(async () => {
  await Promise.all(servers.map((s) => new Promise<void>((r) => { s.close(() => r()); s.closeAllConnections() })))
})

describe('rpull --gateway: blobs through untrusted trustless gateways', () => {
  it('fetches a whole file as one depth-first CAR, checking every block', async () => {
    const g = await good()
    const gw = new GatewayIpfs([g.url])
    expect(Buffer.compare(await readAll(gw.cat(fileCid)), file)).toBe(0)
    expect(g.seen).toEqual({ raw: 0, car: 1 })
    await gw.close()
  })

  it('walks block by block with ?format=raw for ranges and for gateways that do not send depth-first CARs', async () => {
    const g = await good()
    const gw = new GatewayIpfs([g.url])
    expect(Buffer.compare(await readAll(gw.cat(fileCid, { offset: chunk - 3, length: chunk + 6 })), file.subarray(chunk - 3, 2 * chunk + 3))).toBe(0)
    expect(g.seen.car).toBe(0)
    await gw.close()
    // A gateway that ignores order=dfs (here: answers CAR requests with 406) still works, one block at a time.
    const rawOnly = await gateway((req, res, next) => { if ((req.url ?? '').includes('format=car')) res.writeHead(406).end(); else next() })
    const gw2 = new GatewayIpfs([rawOnly.url])
    expect(Buffer.compare(await readAll(gw2.cat(fileCid)), file)).toBe(0)
    expect(rawOnly.seen.raw).toBe(1 + 4) // the root, then each leaf link (the repeated leaf twice)
    await gw2.close()
  })

  it('falls back to single blocks when a CAR comes in the wrong order', async () => {
    const shuffled = await gateway(async (req, res, next) => {
      if (!(req.url ?? '').includes('format=car')) { next(); return }
      const { writer, out } = CarWriter.create([fileCid])
      res.writeHead(200, { 'content-type': 'application/vnd.ipld.car; version=1; order=dfs; dups=y' })
      const pump = (async () => { for await (const c of out) res.write(c) })()
      for (const key of [...leaves].reverse()) await writer.put({ cid: parseCid(key), bytes: store.blocks.get(key) as Uint8Array })
      await writer.close()
      await pump
      res.end()
    })
    const gw = new GatewayIpfs([shuffled.url])
    expect(Buffer.compare(await readAll(gw.cat(fileCid)), file)).toBe(0)
    expect(shuffled.seen.raw).toBeGreaterThan(0)
    await gw.close()
  })

  it('fails naming the block when the only gateway flips a byte of it, whether in a CAR or raw', async () => {
    const leaf = leaves[1] as string
    const bad = await corrupting(leaf)
    for (const range of [{}, { offset: chunk, length: 10 }]) {
      const gw = new GatewayIpfs([bad.url])
      const err = await readAll(gw.cat(fileCid, range)).then(() => undefined, (e: unknown) => e)
      expect(err).toBeInstanceOf(IntegrityError)
      expect((err as Error).message).toContain(`block ${leaf} from ${bad.url} does not match its CID`)
      await gw.close()
    }
  })

  it('tries gateways in order, past dead, empty and lying ones, and stops asking a gateway that lied', async () => {
    const bad = await corrupting(leaves[0] as string)
    const none = await missing()
    const g = await good()
    const gw = new GatewayIpfs([await deadUrl(), none.url, bad.url, g.url])
    expect(Buffer.compare(await readAll(gw.cat(fileCid)), file)).toBe(0)
    const asked = { ...bad.seen }
    expect(asked.car + asked.raw).toBeGreaterThan(0)
    expect(Buffer.compare(await readAll(gw.cat(fileCid, { offset: 0, length: 100 })), file.subarray(0, 100))).toBe(0)
    expect(bad.seen).toEqual(asked)
    await gw.close()
  })

  it('says NotFound when no gateway has the block, Unavailable when none answers', async () => {
    const absent = parseCid('bafkreie7754qk7fl56ebauawdgfuqqa3kdd7sotvuhsm6wbz3qin6ssw3a')
    const gw = new GatewayIpfs([(await missing()).url, (await good()).url])
    await expect(readAll(gw.cat(absent))).rejects.toThrow(NotFoundError)
    await gw.close()
    const dead = new GatewayIpfs([await deadUrl()])
    await expect(readAll(dead.cat(fileCid))).rejects.toThrow(UnavailableError)
    await expect(dead.add()).rejects.toThrow(UsageError)
    await dead.close()
  })

  it('resolves IPNS names from signed records, refusing a tampered record', async () => {
    const root = await mkdtemp(join(tmpdir(), 'ipcr-gw-ipns-'))
    const emb = new EmbeddedIpfs(root)
    const { name } = await (await emb.ipns()).publish(fileCid, { ref: 'gw.test/app:1', lifetimeMs: 3_600_000, ttlMs: 60_000 })
    const honest = http.createServer(gatewayHandler(store, { ipnsDir: join(root, 'ipns') }))
    await new Promise<void>((r) => honest.listen(0, '127.0.0.1', () => r()))
    servers.push(honest)
    const url = `http://127.0.0.1:${(honest.address() as AddressInfo).port}`
    const gw = new GatewayIpfs([url])
    expect(cidText(await (await gw.ipns()).resolve(name))).toBe(cidText(fileCid))
    // Same record bytes with one flipped: the signature no longer holds.
    const tampering = await gateway(async (req, res) => {
      const r = await fetch(`${url}${req.url ?? ''}`, { headers: { accept: req.headers.accept ?? '' } })
      const body = Buffer.from(await r.arrayBuffer())
      body[body.length - 40] = (body[body.length - 40] as number) ^ 1
      res.writeHead(r.status, { 'content-type': r.headers.get('content-type') ?? '' }).end(body)
    })
    const gw2 = new GatewayIpfs([tampering.url])
    await expect((await gw2.ipns()).resolve(name)).rejects.toThrow(IntegrityError)
    await expect((await gw2.ipns()).resolve('example.com')).rejects.toThrow(UsageError)
    await Promise.all([gw.close(), gw2.close()])
  })

  it('takes gateway URLs with or without /ipfs and refuses other schemes', () => {
    expect(gatewayBase('http://127.0.0.1:8080/')).toBe('http://127.0.0.1:8080')
    expect(gatewayBase('https://gw.example/ipfs/')).toBe('https://gw.example')
    expect(gatewayBase('http://gw.example/prefix')).toBe('http://gw.example/prefix')
    expect(() => gatewayBase('ftp://gw.example')).toThrow(UsageError)
    expect(() => gatewayBase('127.0.0.1:8080')).toThrow(UsageError)
  })
})
