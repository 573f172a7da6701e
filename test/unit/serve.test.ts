import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { randomBytes } from 'node:crypto'
import { CarBlockIterator } from '@ipld/car/iterator'
import { cidOf, cidText, type CID } from '../../src/ipfs/cid.js'
import { parseListen, serveGateway } from '../../src/ipfs/serve.js'
import { IntegrityError, NotFoundError } from '../../src/errors.js'
import { MemoryBlocks } from '../support/memory-blocks.js'

const chunk = 262_144

let store: MemoryBlocks
let server: Awaited<ReturnType<typeof serveGateway>>
let file: Buffer
let fileCid: CID
const order: string[] = []

beforeAll(async () => {
  store = new MemoryBlocks()
  const same = randomBytes(chunk)
  file = Buffer.concat([same, randomBytes(chunk), same, randomBytes(1000)])
  fileCid = await cidOf(file, { put: (cid, bytes) => { if (!store.blocks.has(cidText(cid))) order.push(cidText(cid)); store.put(cid, bytes) } })
  server = await serveGateway(store, { host: '127.0.0.1', port: 0 })
})

afterAll(async () => {
  await server?.close()
})

async function car(res: Response): Promise<{ roots: string[]; cids: string[]; bytes: Map<string, Uint8Array> }> {
  const it = await CarBlockIterator.fromBytes(new Uint8Array(await res.arrayBuffer()))
  const cids: string[] = []
  const bytes = new Map<string, Uint8Array>()
  for await (const b of it) { cids.push(cidText(b.cid)); bytes.set(cidText(b.cid), b.bytes) }
  return { roots: (await it.getRoots()).map(cidText), cids, bytes }
}

describe('ipcr ipfs serve: a trustless gateway over a block store', () => {
  it('serves one block for ?format=raw, and the same headers without a body for HEAD', async () => {
    const leaf = order[0] as string
    const res = await fetch(`${server.url}/ipfs/${leaf}?format=raw`)
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toBe('application/vnd.ipld.raw')
    expect(res.headers.get('content-length')).toBe(String(chunk))
    expect(res.headers.get('x-content-type-options')).toBe('nosniff')
    expect(Buffer.compare(Buffer.from(await res.arrayBuffer()), file.subarray(0, chunk))).toBe(0)
    const head = await fetch(`${server.url}/ipfs/${cidText(fileCid)}`, { method: 'HEAD', headers: { accept: 'application/vnd.ipld.raw' } })
    expect(head.status).toBe(200)
    expect(head.headers.get('content-type')).toBe('application/vnd.ipld.raw')
    expect(Number(head.headers.get('content-length'))).toBe(store.blocks.get(cidText(fileCid))?.byteLength)
    expect((await head.arrayBuffer()).byteLength).toBe(0)
  })

  it('serves the DAG as a CARv1 in depth-first order, duplicates only when asked (dups=y)', async () => {
    const noDups = await fetch(`${server.url}/ipfs/${cidText(fileCid)}?format=car`)
    expect(noDups.headers.get('content-type')).toBe('application/vnd.ipld.car; version=1; order=dfs; dups=n')
    const a = await car(noDups)
    expect(a.roots).toEqual([cidText(fileCid)])
    const [l0, l1, l3] = order
    expect(a.cids).toEqual([cidText(fileCid), l0, l1, l3])
    const withDups = await fetch(`${server.url}/ipfs/${cidText(fileCid)}`, { headers: { accept: 'application/vnd.ipld.car; version=1; order=dfs; dups=y' } })
    expect(withDups.headers.get('content-type')).toBe('application/vnd.ipld.car; version=1; order=dfs; dups=y')
    const b = await car(withDups)
    expect(b.cids).toEqual([cidText(fileCid), l0, l1, l0, l3])
    // The leaves, in order, are the file.
    expect(Buffer.compare(Buffer.concat(b.cids.slice(1).map((c) => b.bytes.get(c) as Uint8Array)), file)).toBe(0)
    const head = await fetch(`${server.url}/ipfs/${cidText(fileCid)}?format=car`, { method: 'HEAD' })
    expect(head.headers.get('content-type')).toMatch(/^application\/vnd\.ipld\.car; version=1/)
    expect((await head.arrayBuffer()).byteLength).toBe(0)
  })

  it('limits the CAR by dag-scope=block and by entity-bytes', async () => {
    const [l0, l1, l3] = order
    expect((await car(await fetch(`${server.url}/ipfs/${cidText(fileCid)}?format=car&dag-scope=block`))).cids).toEqual([cidText(fileCid)])
    expect((await car(await fetch(`${server.url}/ipfs/${cidText(fileCid)}?format=car&entity-bytes=0:9`))).cids).toEqual([cidText(fileCid), l0])
    expect((await car(await fetch(`${server.url}/ipfs/${cidText(fileCid)}?format=car&entity-bytes=${chunk - 1}:${chunk}`))).cids).toEqual([cidText(fileCid), l0, l1])
    expect((await car(await fetch(`${server.url}/ipfs/${cidText(fileCid)}?format=car&entity-bytes=-10:*`))).cids).toEqual([cidText(fileCid), l3])
    expect((await fetch(`${server.url}/ipfs/${cidText(fileCid)}?format=car&entity-bytes=x`)).status).toBe(400)
  })

  it('answers what it cannot serve with the right status', async () => {
    const cid = cidText(fileCid)
    expect((await fetch(`${server.url}/ipfs/bafkreie7754qk7fl56ebauawdgfuqqa3kdd7sotvuhsm6wbz3qin6ssw3a?format=raw`)).status).toBe(404)
    expect((await fetch(`${server.url}/ipfs/bafkreie7754qk7fl56ebauawdgfuqqa3kdd7sotvuhsm6wbz3qin6ssw3a?format=car`)).status).toBe(404)
    expect((await fetch(`${server.url}/ipfs/${cid}`)).status).toBe(406)
    expect((await fetch(`${server.url}/ipfs/not-a-cid?format=raw`)).status).toBe(400)
    expect((await fetch(`${server.url}/ipfs/${cid}/sub/path?format=raw`)).status).toBe(404)
    expect((await fetch(`${server.url}/`)).status).toBe(404)
    const post = await fetch(`${server.url}/ipfs/${cid}?format=raw`, { method: 'POST' })
    expect(post.status).toBe(405)
    expect(post.headers.get('allow')).toBe('GET, HEAD')
    expect((await fetch(`${server.url}/ipns/k51qzi5uqu5dlvj2baxnqndepeb86cbk3ng7n3i46uzyxzyqj2xjonzllnv0v8?format=ipns-record`)).status).toBe(406)
  })

  it('tells remote clients what failed without the local paths in the store\'s errors', async () => {
    const dir = '/var/lib/secret-store'
    const other = await serveGateway({
      get: async (cid) => {
        if (cidText(cid) === cidText(fileCid)) throw new IntegrityError(`block ${cidText(cid)} in ${dir}/blocks is damaged`)
        throw new NotFoundError(`block ${cidText(cid)} is not in the embedded store at ${dir}`)
      },
      has: async () => true,
    }, { host: '127.0.0.1', port: 0 })
    try {
      const missing = 'bafkreie7754qk7fl56ebauawdgfuqqa3kdd7sotvuhsm6wbz3qin6ssw3a'
      const notFound = await fetch(`${other.url}/ipfs/${missing}?format=raw`)
      expect(notFound.status).toBe(404)
      const text = await notFound.text()
      expect(text).toContain(missing)
      expect(text).not.toContain(dir)
      const damaged = await fetch(`${other.url}/ipfs/${cidText(fileCid)}?format=raw`)
      expect(damaged.status).toBe(500)
      expect(await damaged.text()).not.toContain(dir)
      const badCid = await fetch(`${other.url}/ipfs/not-a-cid?format=raw`)
      expect(badCid.status).toBe(400)
      expect(await badCid.text()).toContain('"not-a-cid" is not a CID')
    } finally {
      await other.close()
    }
  })

  it('parses --listen', () => {
    expect(parseListen('127.0.0.1:8080')).toEqual({ host: '127.0.0.1', port: 8080 })
    expect(parseListen('[::1]:0')).toEqual({ host: '::1', port: 0 })
    expect(parseListen(':9090')).toEqual({ host: '0.0.0.0', port: 9090 })
    expect(parseListen('http://10.0.0.5:8080/')).toEqual({ host: '10.0.0.5', port: 8080 })
    expect(() => parseListen('8080')).toThrow(/HOST:PORT/)
    expect(() => parseListen('h:70000')).toThrow(/out of range/)
  })
})
