import { cidText, type CID } from '../../src/ipfs/cid.js'
import { NotFoundError } from '../../src/errors.js'
import type { ServedStore } from '../../src/ipfs/serve.js'

/** Blocks in memory, handed out as the embedded store would (for gateway and serve tests). */
export class MemoryBlocks implements ServedStore {
  readonly blocks = new Map<string, Uint8Array>()
  put(cid: CID, bytes: Uint8Array): void { this.blocks.set(cidText(cid), bytes) }
  async get(cid: CID): Promise<Uint8Array> {
    const b = this.blocks.get(cidText(cid))
    if (!b) throw new NotFoundError(`block ${cidText(cid)} is not here`)
    return b
  }
  async has(cid: CID): Promise<boolean> { return this.blocks.has(cidText(cid)) }
}
