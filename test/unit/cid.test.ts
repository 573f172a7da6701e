import { describe, expect, it } from 'vitest'
import { mkdtemp } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createHash } from 'node:crypto'
import { cidOf, cidText, parseCid } from '../../src/ipfs/cid.js'
import { EmbeddedIpfs } from '../../src/ipfs/embedded.js'
import { readAll } from '../../src/oci/digest.js'
import { marshalDescriptor } from '../../src/oci/manifest.js'

// The vector from the public stargz-snapshotter documentation (wire-format.md §1).
const vectorJson = '{"mediaType":"application/vnd.oci.image.index.v1+json","digest":"sha256:80d6aec48c0a74635a5f3dc106328c1673afaa21ed6e1270a9a44de66e8ffa55","size":314,"urls":["ipfs://bafkreiea22xmjdakorrvuxz5yeddfdawoox2uipnnyjhbknejxtg5d72ku"]}'

function pseudoRandom(size: number, seed = 1): Buffer {
  const out = Buffer.alloc(size)
  let off = 0
  for (let i = 0; off < size; i++) {
    const block = createHash('sha256').update(`${seed}:${i}`).digest()
    off += block.copy(out, off)
  }
  return out
}

async function* chunks(buf: Buffer, size = 65_536): AsyncGenerator<Uint8Array> {
  for (let i = 0; i < buf.length; i += size) yield buf.subarray(i, i + size)
}

describe('CIDs under the kubo default profile', () => {
  it('matches the stargz-snapshotter documentation vector', async () => {
    expect(cidText(await cidOf(Buffer.from(vectorJson)))).toBe('bafkreie7754qk7fl56ebauawdgfuqqa3kdd7sotvuhsm6wbz3qin6ssw3a')
  })

  it('re-marshals the vector descriptor byte for byte', () => {
    const parsed = JSON.parse(vectorJson) as Parameters<typeof marshalDescriptor>[0]
    expect(marshalDescriptor(parsed)).toBe(vectorJson)
  })

  it('gives a single raw block whose digest is the sha256 of a small blob', async () => {
    const data = pseudoRandom(262_144)
    const cid = await cidOf(chunks(data))
    expect(cid.code).toBe(0x55)
    expect(Buffer.from(cid.multihash.digest).toString('hex')).toBe(createHash('sha256').update(data).digest('hex'))
    expect(cidText(cid).startsWith('bafkrei')).toBe(true)
  })

  it('gives a dag-pb root above one chunk', async () => {
    const cid = await cidOf(chunks(pseudoRandom(262_145)))
    expect(cid.code).toBe(0x70)
    expect(cidText(cid).startsWith('bafybei')).toBe(true)
  })

  it('does not depend on how the input is chunked', async () => {
    const data = pseudoRandom(1_000_000, 7)
    const a = await cidOf(chunks(data, 1000))
    const b = await cidOf(chunks(data, 300_000))
    expect(a.equals(b)).toBe(true)
  })

  it('parses CIDs in the forms users paste', () => {
    const c = 'bafkreie7754qk7fl56ebauawdgfuqqa3kdd7sotvuhsm6wbz3qin6ssw3a'
    expect(cidText(parseCid(c))).toBe(c)
    expect(() => parseCid('ghcr.io/org/app:1')).toThrow(/not a CID/)
  })
})

describe('embedded store', () => {
  it('stores a multi-block blob and reads back any range', async () => {
    const store = new EmbeddedIpfs(await mkdtemp(join(tmpdir(), 'ipcr-emb-')))
    const data = pseudoRandom(3 * 262_144 + 1234, 3)
    const cid = await store.add(chunks(data))
    expect(cid.equals(await cidOf(chunks(data)))).toBe(true)
    expect(Buffer.compare(await readAll(store.cat(cid)), data)).toBe(0)
    const slice = await readAll(store.cat(cid, { offset: 262_000, length: 300_000 }))
    expect(Buffer.compare(slice, data.subarray(262_000, 562_000))).toBe(0)
  })
})
