// Clients that hang up mid-response must not take `ipcr ipfs serve` down (issue 13): the built CLI
// serves an embedded store (no kubo), raw sockets abort `?format=car` and `?format=raw` responses
// 50 times each at seeded random points (before the headers, inside them, mid-body), and then the
// same process still answers every kind of request correctly, and its 404s name no local path.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createHash } from 'node:crypto'
import { mkdtemp } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { CarBlockIterator } from '@ipld/car/iterator'
import * as dagPb from '@ipld/dag-pb'
import { UnixFS } from 'ipfs-unixfs'
import * as raw from 'multiformats/codecs/raw'
import { linksOf, verifyBlock } from '../../src/ipfs/block.js'
import { cidText, parseCid, type CID } from '../../src/ipfs/cid.js'
import { MT, OciLayoutWriter, prngBytes, tarBuffer, writeImage, writeLayer } from '../../src/testkit/index.js'
import { abortAfter as abortAt, abortPoints as seededPoints } from '../support/abort-loop.js'
import { ipcr } from '../support/ipcr.js'
import { startIpcrServer, type IpcrServer } from '../support/ipcr-server.js'

/** Far more than loopback socket buffers hold, so a client that stops reading leaves the server mid-write. */
const bigFileSize = 24 * 1024 * 1024
const aborts = 50

let work: string
let env: NodeJS.ProcessEnv
let server: IpcrServer
let url: string
let root: string
let layer: { cid: string; digest: string; size: number }

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'ipcr-serve-abort-e2e-'))
  env = { IPFS_PATH: join(work, 'no-ipfs'), IPCR_ROOT: join(work, 'store') }
  const w = await new OciLayoutWriter(join(work, 'layout')).init()
  const big = await writeLayer(w, await tarBuffer([{ path: 'big.bin', type: 'file', content: prngBytes(`serve-abort-${process.pid}`, bigFileSize) }]),
    { mediaType: MT.ociLayer, gzip: false, comment: 'big layer' })
  const img = await writeImage(w, { platform: { architecture: 'amd64', os: 'linux' }, layers: [big] })
  await w.writeIndex([{ name: `ipcr.test/serve-abort:${process.pid}`, descriptor: img.manifest }])

  const pushed = await ipcr(['i', 'ipfs-push', '--estargz=false', '--ipns=false', '--json', `oci-layout:${w.dir}`], { env })
  expect(pushed.code, pushed.stderr).toBe(0)
  const out = JSON.parse(pushed.stdout) as { root: string; blobs: Array<{ digest: string; size: number; cid?: string }> }
  root = out.root
  const blob = out.blobs.find((b) => b.digest === big.descriptor.digest)
  if (!blob?.cid) throw new Error(`the push printed no CID for the big layer:\n${pushed.stdout}`)
  layer = { cid: blob.cid, digest: blob.digest, size: blob.size }

  // --debug: a line per request on stderr, which says when the client went away mid-response.
  server = await startIpcrServer(['--debug', 'ipfs', 'serve', '--listen', '127.0.0.1:0'], env)
  url = server.url
})

const abortAfter = (path: string, keep: number): Promise<number> => abortAt(url, path, keep)
const abortPoints = (seed: string, bodySize: number): number[] => seededPoints(seed, bodySize, aborts)

afterAll(async () => {
  await server?.stop()
})

/** A UnixFS file's bytes from its blocks, following links depth-first. */
function fileBytes(blocks: Map<string, Uint8Array>, cid: CID): Buffer {
  const bytes = blocks.get(cidText(cid))
  if (!bytes) throw new Error(`block ${cidText(cid)} is missing from the CAR`)
  if (cid.code === raw.code) return Buffer.from(bytes)
  const node = dagPb.decode(bytes)
  const data = node.Data ? UnixFS.unmarshal(node.Data).data : undefined
  return Buffer.concat([data ?? new Uint8Array(), ...node.Links.map((l) => fileBytes(blocks, l.Hash))])
}

/** Fetch a CAR and check it: its root, every block against its CID, and that no linked block is missing. */
async function fetchCar(cid: string): Promise<Map<string, Uint8Array>> {
  const res = await fetch(`${url}/ipfs/${cid}?format=car`)
  expect(res.status).toBe(200)
  const it = await CarBlockIterator.fromBytes(new Uint8Array(await res.arrayBuffer()))
  expect((await it.getRoots()).map(cidText)).toEqual([cid])
  const blocks = new Map<string, Uint8Array>()
  for await (const b of it) blocks.set(cidText(b.cid), verifyBlock(b.cid, b.bytes, url))
  for (const [key, bytes] of blocks) {
    for (const link of linksOf(parseCid(key), bytes)) expect(blocks.has(cidText(link)), `${key} links to ${cidText(link)}`).toBe(true)
  }
  return blocks
}

describe('ipcr ipfs serve: clients that hang up', () => {
  it('survives 50 aborted ?format=car and 50 aborted ?format=raw responses, then serves correct CARs and blocks', async () => {
    const leaf = linksOf(parseCid(layer.cid), verifyBlock(parseCid(layer.cid), new Uint8Array(await (await fetch(`${url}/ipfs/${layer.cid}?format=raw`)).arrayBuffer()), url))[0]
    if (!leaf) throw new Error(`layer ${layer.cid} has no links: not a multi-block file`)

    const carPoints = abortPoints('serve-abort-car', layer.size)
    for (const [i, keep] of carPoints.entries()) {
      // Mostly the big layer (where the server is still writing when the client goes); the image root too.
      await abortAfter(`/ipfs/${i % 10 === 9 ? root : layer.cid}?format=car`, keep)
    }
    for (const keep of abortPoints('serve-abort-raw', 256 * 1024)) {
      await abortAfter(`/ipfs/${cidText(leaf)}?format=raw`, keep)
    }
    expect(server.proc.exitCode, server.stderr()).toBeNull()
    expect(server.proc.signalCode, server.stderr()).toBeNull()
    expect(server.stderr()).not.toMatch(/ERR_STREAM_PREMATURE_CLOSE|Unhandled|uncaught/i)
    // The test's own check: aborts did land mid-response (the big layer's CAR is far larger than what
    // socket buffers hold), rather than all after the server had written everything it had.
    const gone = server.stderr().split('\n').filter((l) => /format=car 200 \d+ms \(the client went away\)$/.test(l))
    expect(gone.length, server.stderr()).toBeGreaterThanOrEqual(aborts / 4)

    // The same process answers in full: the layer's CAR is the layer blob, byte for byte.
    const layerBlocks = await fetchCar(layer.cid)
    const file = fileBytes(layerBlocks, parseCid(layer.cid))
    expect(file.byteLength).toBe(layer.size)
    expect(`sha256:${createHash('sha256').update(file).digest('hex')}`).toBe(layer.digest)
    const rootBlocks = await fetchCar(root)
    expect([...rootBlocks.keys()]).toEqual([root])

    const res = await fetch(`${url}/ipfs/${cidText(leaf)}?format=raw`)
    expect(res.status).toBe(200)
    const block = new Uint8Array(await res.arrayBuffer())
    verifyBlock(leaf, block, url)
    expect(Buffer.compare(block, layerBlocks.get(cidText(leaf)) as Uint8Array)).toBe(0)
  })

  it('answers a missing block with 404 and names no local path', async () => {
    const missing = 'bafkreie7754qk7fl56ebauawdgfuqqa3kdd7sotvuhsm6wbz3qin6ssw3a'
    for (const format of ['raw', 'car']) {
      const res = await fetch(`${url}/ipfs/${missing}?format=${format}`)
      expect(res.status).toBe(404)
      const body = await res.text()
      expect(body).toContain(missing)
      expect(body).not.toContain(work)
      expect(body).not.toMatch(/\/(tmp|var|home|root)\//)
    }
    const record = await fetch(`${url}/ipns/k51qzi5uqu5dlvj2baxnqndepeb86cbk3ng7n3i46uzyxzyqj2xjonzllnv0v8?format=ipns-record`)
    expect(record.status).toBe(404)
    expect(await record.text()).not.toContain(work)
  })
})
