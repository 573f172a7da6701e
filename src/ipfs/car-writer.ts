import { createWriteStream } from 'node:fs'
import { rm } from 'node:fs/promises'
import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { randomBytes } from 'node:crypto'
import { CarWriter } from '@ipld/car/writer'
import type { CID } from 'multiformats/cid'
import { UsageError } from '../errors.js'
import { readRange, writeFileAtomic } from '../util/fs-util.js'
import type { IpfsBackend } from './backend.js'
import { cidOf, cidText } from './cid.js'
import type { IpnsService } from './ipns.js'

/**
 * `ipfs-push --car FILE`: an IpfsBackend that needs no daemon and writes every block it is given into
 * a CARv1 file, each block once. A CAR's roots come first in the file but are known only when the push
 * ends, so blocks stream to a temp file beside FILE and finish() writes the header and then the blocks
 * under FILE's name in one atomic rename. Nothing is left behind if the push fails (close() without finish()).
 */
export class CarFileWriter implements IpfsBackend {
  readonly description: string
  private readonly body: string
  private readonly writer: ReturnType<typeof CarWriter.createAppender>['writer']
  private readonly pump: Promise<void>
  private readonly seen = new Set<string>()
  private finished = false
  blocks = 0
  bytes = 0

  private constructor(readonly path: string) {
    this.description = `CAR file ${path}`
    this.body = `${path}.${randomBytes(6).toString('hex')}.blocks.tmp`
    const { writer, out } = CarWriter.createAppender()
    this.writer = writer
    this.pump = pipeline(Readable.from(out), createWriteStream(this.body, { flags: 'wx' }))
    this.pump.catch(() => undefined) // surfaced by finish()
  }

  static async create(path: string): Promise<CarFileWriter> {
    return new CarFileWriter(path)
  }

  async put(cid: CID, bytes: Uint8Array): Promise<void> {
    const key = cidText(cid)
    if (this.seen.has(key)) return
    this.seen.add(key)
    this.blocks++
    this.bytes += bytes.byteLength
    await this.writer.put({ cid, bytes })
  }

  add(bytes: AsyncIterable<Uint8Array>): Promise<CID> {
    return cidOf(bytes, this)
  }

  // eslint-disable-next-line require-yield
  async *cat(cid: CID): AsyncGenerator<Uint8Array> {
    throw new UsageError(`cannot read ${cidText(cid)} back from a CAR file being written`)
  }

  async ipns(): Promise<IpnsService> {
    throw new UsageError('a CAR file carries no IPNS records: push without --car to publish a reference')
  }

  /** Write FILE: the header naming `roots` (kubo's `dag import` pins each of them), then every block. */
  async finish(roots: CID[]): Promise<void> {
    if (roots.length === 0) throw new UsageError('a CAR needs at least one root')
    await this.writer.close()
    await this.pump
    const header = await carHeader(roots)
    const body = this.body
    await writeFileAtomic(this.path, (async function* () {
      yield header
      yield* readRange(body)
    })())
    this.finished = true
    await rm(this.body, { force: true })
  }

  async close(): Promise<void> {
    if (!this.finished) {
      await this.writer.close().catch(() => undefined)
      await this.pump.catch(() => undefined)
    }
    await rm(this.body, { force: true })
  }
}

/** A CARv1 header (varint length, then dag-cbor `{roots, version: 1}`), as @ipld/car writes it. */
export async function carHeader(roots: CID[]): Promise<Uint8Array> {
  const { writer, out } = CarWriter.create(roots)
  const parts: Uint8Array[] = []
  const reading = (async () => { for await (const p of out) parts.push(p) })()
  await writer.close()
  await reading
  return Buffer.concat(parts)
}
