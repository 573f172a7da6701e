import { describe, expect, it } from 'vitest'
import { createReadStream } from 'node:fs'
import { mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { CarIndexer } from '@ipld/car/indexer'
import { CarWriter } from '@ipld/car/writer'
import { CarFileWriter } from '../../src/ipfs/car-writer.js'
import { CarIpfs, verifyCarFile } from '../../src/ipfs/car.js'
import { importCar } from '../../src/ipfs/car-import.js'
import { cidOf, cidText, parseCid, type CID } from '../../src/ipfs/cid.js'
import { EmbeddedIpfs } from '../../src/ipfs/embedded.js'
import { IntegrityError, NotFoundError, UsageError } from '../../src/errors.js'
import { readAll, sha256Digest } from '../../src/oci/digest.js'
import { MediaType } from '../../src/oci/media-types.js'
import { pushImage } from '../../src/push/push.js'
import { MemoryImage } from '../support/memory-image.js'

const amd64 = { all: false as const, only: [{ os: 'linux', architecture: 'amd64' }] }
const chunk = 262_144

/** An image whose layer spans several 256 KiB chunks, two of them identical (one block, linked twice). */
function image(): { img: MemoryImage; layer: Buffer } {
  const img = new MemoryImage()
  const same = randomBytes(chunk)
  const layer = Buffer.concat([same, randomBytes(chunk), same, randomBytes(100_000)])
  const layerDesc = img.put(MediaType.OciLayerGzip, layer)
  const config = img.putJson(MediaType.OciConfig, { architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [sha256Digest('x')] } })
  img.rootDesc = img.putJson(MediaType.OciManifest, { schemaVersion: 2, mediaType: MediaType.OciManifest, config, layers: [layerDesc] })
  return { img, layer }
}

async function tmp(): Promise<string> {
  return mkdtemp(join(tmpdir(), 'ipcr-car-'))
}

async function pushToCar(): Promise<{ path: string; rootCid: string; blobCids: string[]; layer: Buffer; layerCid: CID; img: MemoryImage }> {
  const dir = await tmp()
  const path = join(dir, 'image.car')
  const { img, layer } = image()
  const car = await CarFileWriter.create(path)
  try {
    const r = await pushImage(img, car, { platforms: amd64 })
    const blobCids = r.blobs.map((b) => b.cid as string)
    await car.finish([parseCid(r.rootCid), ...blobCids.map(parseCid)])
    return { path, rootCid: r.rootCid, blobCids, layer, layerCid: await cidOf(layer), img }
  } finally {
    await car.close()
  }
}

async function index(path: string): Promise<{ roots: string[]; blocks: Array<{ cid: string; blockOffset: number; blockLength: number }> }> {
  const indexer = await CarIndexer.fromIterable(createReadStream(path))
  const blocks = []
  for await (const e of indexer) blocks.push({ cid: cidText(e.cid), blockOffset: e.blockOffset, blockLength: e.blockLength })
  return { roots: (await indexer.getRoots()).map(cidText), blocks }
}

/** A copy of the CAR with one byte of one block's data flipped. */
async function corrupt(path: string, cid: string): Promise<string> {
  const { blocks } = await index(path)
  const at = blocks.find((b) => b.cid === cid)
  if (!at) throw new Error(`no block ${cid}`)
  const bytes = await readFile(path)
  const i = at.blockOffset + Math.floor(at.blockLength / 2)
  bytes[i] = (bytes[i] as number) ^ 0x01
  const out = `${path}.bad.car`
  await writeFile(out, bytes)
  return out
}

describe('ipfs-push --car: a CARv1 file written with no daemon', () => {
  it('lists the root descriptor first and every blob after it as roots, each block once, with the CIDs kubo gives', async () => {
    const { path, rootCid, blobCids, layerCid, img } = await pushToCar()
    const { roots, blocks } = await index(path)
    expect(roots).toEqual([rootCid, ...blobCids])
    expect(blobCids).toContain(cidText(layerCid))
    const cids = blocks.map((b) => b.cid)
    expect(new Set(cids).size).toBe(cids.length)
    // 1 layer root + 3 distinct leaves (one linked twice) + config + manifest + root descriptor.
    expect(cids).toHaveLength(7)
    // The same image pushed into the embedded store gets the same root CID.
    const emb = await pushImage(img, new EmbeddedIpfs(await tmp()), { platforms: amd64 })
    expect(emb.rootCid).toBe(rootCid)
    expect((await verifyCarFile(path)).blocks).toBe(7)
    expect(await readdir(join(path, '..'))).toEqual(['image.car']) // no temp files left
  })

  it('leaves nothing behind when the push fails', async () => {
    const dir = await tmp()
    const img = new MemoryImage()
    const layer = img.put(MediaType.OciLayerGzip, 'layer')
    img.blobs.set(layer.digest, Buffer.from('not the layer'))
    const config = img.putJson(MediaType.OciConfig, { architecture: 'amd64', os: 'linux' })
    img.rootDesc = img.putJson(MediaType.OciManifest, { schemaVersion: 2, mediaType: MediaType.OciManifest, config, layers: [layer] })
    const car = await CarFileWriter.create(join(dir, 'x.car'))
    await expect(pushImage(img, car, { platforms: amd64 })).rejects.toThrow(IntegrityError)
    await car.close()
    expect(await readdir(dir)).toEqual([])
  })
})

describe('reading and importing CAR files', () => {
  it('rpull --car reads any range of a blob, every block checked', async () => {
    const { path, layer, layerCid } = await pushToCar()
    const car = await CarIpfs.open(path)
    try {
      expect(Buffer.compare(await readAll(car.cat(layerCid)), layer)).toBe(0)
      for (const [offset, length] of [[0, 10], [chunk - 5, 10], [chunk * 2 + 7, chunk + 3], [layer.length - 3, 100], [layer.length + 5, 1]] as const) {
        expect(Buffer.compare(await readAll(car.cat(layerCid, { offset, length })), layer.subarray(offset, offset + length)), `${offset}+${length}`).toBe(0)
      }
      await expect(readAll(car.cat(parseCid('bafkreie7754qk7fl56ebauawdgfuqqa3kdd7sotvuhsm6wbz3qin6ssw3a')))).rejects.toThrow(NotFoundError)
      await expect(car.ipns()).rejects.toThrow(UsageError)
    } finally {
      await car.close()
    }
  })

  it('a flipped byte fails naming the block, in the check, on read and on import (which then stores nothing)', async () => {
    const { path, layerCid } = await pushToCar()
    const { blocks } = await index(path)
    const leaf = blocks.find((b) => b.cid.startsWith('bafkrei') && b.blockLength === chunk)?.cid as string
    const bad = await corrupt(path, leaf)
    await expect(verifyCarFile(bad)).rejects.toThrow(new RegExp(`block ${leaf} from .* does not match its CID`))
    const car = await CarIpfs.open(bad)
    await expect(readAll(car.cat(layerCid))).rejects.toThrow(IntegrityError)
    await car.close()
    const store = new EmbeddedIpfs(await tmp())
    await expect(importCar(bad, store)).rejects.toThrow(leaf)
    expect(await store.blocks.has(layerCid)).toBe(false)
  })

  it('refuses an incomplete CAR and a file that is not a CAR', async () => {
    const dir = await tmp()
    const leafA = Buffer.alloc(chunk, 1)
    const whole = Buffer.concat([leafA, Buffer.alloc(10, 2)])
    const blocks: Array<{ cid: CID; bytes: Uint8Array }> = []
    const root = await cidOf(whole, { put: (cid, bytes) => { blocks.push({ cid, bytes }) } })
    const { writer, out } = CarWriter.create([root])
    const parts: Uint8Array[] = []
    const reading = (async () => { for await (const p of out) parts.push(p) })()
    for (const b of blocks) if (!b.cid.equals(blocks[0]?.cid as CID)) await writer.put(b) // drop the first leaf
    await writer.close()
    await reading
    await writeFile(join(dir, 'partial.car'), Buffer.concat(parts))
    await expect(verifyCarFile(join(dir, 'partial.car'))).rejects.toThrow(new RegExp(`incomplete: block ${cidText(blocks[0]?.cid as CID)} \\(linked from ${cidText(root)}\\)`))
    await writeFile(join(dir, 'junk.car'), 'hello')
    await expect(verifyCarFile(join(dir, 'junk.car'))).rejects.toThrow(UsageError)
    await expect(CarIpfs.open(join(dir, 'junk.car'))).rejects.toThrow(UsageError)
    await expect(verifyCarFile(join(dir, 'absent.car'))).rejects.toThrow(NotFoundError)
  })

  it('imports into the embedded store, which then serves every blob', async () => {
    const { path, layer, layerCid, rootCid } = await pushToCar()
    const store = new EmbeddedIpfs(await tmp())
    const r = await importCar(path, store)
    expect(r.roots.map(cidText)[0]).toBe(rootCid)
    expect(Buffer.compare(await readAll(store.cat(layerCid)), layer)).toBe(0)
    expect(JSON.parse((await readAll(store.cat(parseCid(rootCid)))).toString()).urls[0]).toMatch(/^ipfs:\/\/bafkrei/)
  })
})
