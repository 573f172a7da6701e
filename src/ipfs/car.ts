import { createReadStream } from 'node:fs'
import { open, stat, type FileHandle } from 'node:fs/promises'
import { CarBlockIterator } from '@ipld/car/iterator'
import { CarIndexer } from '@ipld/car/indexer'
import type { CID } from 'multiformats/cid'
import { IntegrityError, NotFoundError, UsageError } from '../errors.js'
import type { IpfsBackend } from './backend.js'
import { linksOf, verifyBlock } from './block.js'
import { cidText } from './cid.js'
import type { IpnsService } from './ipns.js'
import { catUnixfs } from './unixfs.js'

/** The blocks of a CAR file as they stream by, or a UsageError when it is not a CAR at all. */
export async function carBlocks(path: string): Promise<{ roots: CID[]; blocks: AsyncIterable<{ cid: CID; bytes: Uint8Array }> }> {
  const it = await CarBlockIterator.fromIterable(createReadStream(path, { highWaterMark: 1 << 20 })).catch((err: Error) => {
    throw new UsageError(`${path} is not a CAR file: ${err.message}`)
  })
  const roots = await it.getRoots()
  async function* blocks(): AsyncGenerator<{ cid: CID; bytes: Uint8Array }> {
    try {
      yield* it
    } catch (err) {
      throw new IntegrityError(`${path} is damaged: ${(err as Error).message}`)
    }
  }
  return { roots, blocks: blocks() }
}

export interface CarSummary {
  roots: CID[]
  blocks: number
  bytes: number
}

/**
 * Read a whole CAR and check it before anything of it is used: every block hashes to its CID, and
 * every root and every block a dag-pb node links to is in the file (an image CAR is complete).
 */
export async function verifyCarFile(path: string): Promise<CarSummary> {
  await stat(path).catch(() => { throw new NotFoundError(`${path} does not exist`) })
  const { roots, blocks } = await carBlocks(path)
  if (roots.length === 0) throw new UsageError(`${path} names no roots: nothing to import`)
  const have = new Set<string>()
  const needed = new Map<string, string>() // linked CID -> the block linking to it
  let count = 0
  let bytes = 0
  for await (const block of blocks) {
    verifyBlock(block.cid, block.bytes, path)
    const key = cidText(block.cid)
    have.add(key)
    count++
    bytes += block.bytes.byteLength
    for (const link of linksOf(block.cid, block.bytes)) needed.set(cidText(link), key)
  }
  for (const root of roots) {
    if (!have.has(cidText(root))) throw new IntegrityError(`${path} is incomplete: root ${cidText(root)} is not in it`)
  }
  for (const [cid, parent] of needed) {
    if (!have.has(cid)) throw new IntegrityError(`${path} is incomplete: block ${cid} (linked from ${parent}) is not in it`)
  }
  return { roots, blocks: count, bytes }
}

/**
 * `rpull --car FILE`: a read-only IpfsBackend over a CAR file. Opening indexes where each block
 * sits; every read hashes the block against its CID, so a damaged file fails naming the block.
 */
export class CarIpfs implements IpfsBackend {
  readonly description: string

  private constructor(readonly path: string, private readonly fh: FileHandle, readonly roots: CID[], private readonly index: Map<string, { offset: number; length: number }>) {
    this.description = `CAR file ${path}`
  }

  static async open(path: string): Promise<CarIpfs> {
    const fh = await open(path, 'r').catch((err: NodeJS.ErrnoException) => {
      throw err.code === 'ENOENT' ? new NotFoundError(`${path} does not exist`) : new UsageError(`cannot read ${path}: ${err.message}`)
    })
    try {
      const indexer = await CarIndexer.fromIterable(fh.createReadStream({ highWaterMark: 1 << 20, autoClose: false, start: 0 })).catch((err: Error) => {
        throw new UsageError(`${path} is not a CAR file: ${err.message}`)
      })
      const roots = await indexer.getRoots()
      const index = new Map<string, { offset: number; length: number }>()
      try {
        for await (const entry of indexer) index.set(cidText(entry.cid), { offset: entry.blockOffset, length: entry.blockLength })
      } catch (err) {
        throw new IntegrityError(`${path} is damaged: ${(err as Error).message}`)
      }
      return new CarIpfs(path, fh, roots, index)
    } catch (err) {
      await fh.close()
      throw err
    }
  }

  readonly getBlock = async (cid: CID): Promise<Uint8Array> => {
    const at = this.index.get(cidText(cid))
    if (!at) throw new NotFoundError(`block ${cidText(cid)} is not in ${this.path}`)
    const bytes = Buffer.alloc(at.length)
    const { bytesRead } = await this.fh.read(bytes, 0, at.length, at.offset)
    if (bytesRead !== at.length) throw new IntegrityError(`${this.path} was truncated while reading block ${cidText(cid)}`)
    return verifyBlock(cid, bytes, this.path)
  }

  cat(cid: CID, options: { offset?: number; length?: number; signal?: AbortSignal } = {}): AsyncGenerator<Uint8Array> {
    return catUnixfs(this.getBlock, cid, options)
  }

  async add(): Promise<CID> {
    throw new UsageError(`${this.path} is read-only: push with --car to write a CAR file`)
  }

  async ipns(): Promise<IpnsService> {
    throw new UsageError(`a CAR file holds no IPNS records: pull from ${this.path} by CID (its first root is the image)`)
  }

  async close(): Promise<void> {
    await this.fh.close().catch(() => undefined)
  }
}
