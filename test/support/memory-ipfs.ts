import { cidOf, type CID } from '../../src/ipfs/cid.js'
import type { IpfsBackend } from '../../src/ipfs/backend.js'
import type { IpnsService } from '../../src/ipfs/ipns.js'
import { catUnixfs } from '../../src/ipfs/unixfs.js'
import { MemoryBlocks } from './memory-blocks.js'

/**
 * IPFS in memory: the DAGs and CIDs kubo would make, kept in MemoryBlocks (which, like a corrupt
 * store, hands back whatever was put under a CID: tests that tamper with a block get it as put).
 * No IPNS. Counts its closes, so tests can check who owns it.
 */
export class MemoryIpfs implements IpfsBackend {
  readonly description = 'in-memory IPFS'
  readonly blocks = new MemoryBlocks()
  closed = 0

  add(bytes: AsyncIterable<Uint8Array>): Promise<CID> {
    return cidOf(bytes, this.blocks)
  }

  cat(cid: CID, options: { offset?: number; length?: number; signal?: AbortSignal } = {}): AsyncIterable<Uint8Array> {
    return catUnixfs((c) => this.blocks.get(c), cid, options)
  }

  async ipns(): Promise<IpnsService> {
    throw new Error('MemoryIpfs keeps no IPNS records')
  }

  async close(): Promise<void> {
    this.closed++
  }
}
