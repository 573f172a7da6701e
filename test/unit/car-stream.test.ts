import { describe, expect, it } from 'vitest'
import { CarWriter } from '@ipld/car/writer'
import { randomBytes } from 'node:crypto'
import { cidOf, type CID } from '../../src/ipfs/cid.js'
import { carStream } from '../../src/ipfs/car-stream.js'

async function someBlocks(): Promise<Array<{ cid: CID; bytes: Uint8Array }>> {
  const blocks: Array<{ cid: CID; bytes: Uint8Array }> = []
  await cidOf(randomBytes(600_000), { put: (cid, bytes) => { blocks.push({ cid, bytes }) } })
  await cidOf(new Uint8Array(0), { put: (cid, bytes) => { blocks.push({ cid, bytes }) } }) // an empty block too
  return blocks
}

async function* each<T>(items: T[]): AsyncGenerator<T> {
  yield* items
}

describe('carStream', () => {
  it('writes the same bytes as @ipld/car CarWriter', async () => {
    const blocks = await someBlocks()
    const roots = [(blocks.at(-2) as { cid: CID }).cid]
    const { writer, out } = CarWriter.create(roots)
    const reading = (async () => { const parts: Uint8Array[] = []; for await (const p of out) parts.push(p); return Buffer.concat(parts) })()
    for (const b of blocks) await writer.put(b)
    await writer.close()
    const ours: Uint8Array[] = []
    for await (const p of carStream(roots, each(blocks))) ours.push(p)
    expect(Buffer.compare(Buffer.concat(ours), await reading)).toBe(0)
  })

  it('stops reading blocks when its reader stops, and their finally runs', async () => {
    const blocks = await someBlocks()
    let read = 0
    let stopped = false
    const source = (async function* () {
      try {
        for (const b of blocks) { read++; yield b }
      } finally {
        stopped = true
      }
    })()
    const stream = carStream([(blocks[0] as { cid: CID }).cid], source)
    await stream.next() // header
    await stream.next() // the first block's length and CID
    await stream.return(undefined)
    expect(stopped).toBe(true)
    expect(read).toBe(1)
  })
})
