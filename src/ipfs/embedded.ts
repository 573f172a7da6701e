import { mkdir, open, readFile, rename, stat, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { homedir } from 'node:os'
import * as dagPb from '@ipld/dag-pb'
import { UnixFS } from 'ipfs-unixfs'
import * as raw from 'multiformats/codecs/raw'
import { sha256 } from 'multiformats/hashes/sha2'
import { CID } from 'multiformats/cid'
import { IntegrityError, NotFoundError } from '../errors.js'
import type { IpfsBackend } from './backend.js'
import type { IpnsService } from './ipns.js'
import { cidOf, cidText } from './cid.js'

/** `$IPCR_ROOT`, default `~/.local/share/ipcr`: where the embedded store and push history live. */
export function ipcrRoot(env: NodeJS.ProcessEnv = process.env): string {
  return env.IPCR_ROOT ?? join(env.XDG_DATA_HOME ?? join(homedir(), '.local', 'share'), 'ipcr')
}

/**
 * Blocks as files named by CID under `<root>/blocks/<2 chars>/`, written to a temp name and renamed
 * so a crash never leaves a torn block. Every block read back is hashed against its CID.
 */
export class DiskBlockstore {
  constructor(readonly dir: string) {}

  private path(cid: CID): string {
    const key = cidText(cid)
    return join(this.dir, key.slice(-3, -1), key)
  }

  async has(cid: CID): Promise<boolean> {
    return stat(this.path(cid)).then(() => true, () => false)
  }

  async put(cid: CID, bytes: Uint8Array): Promise<CID> {
    const path = this.path(cid)
    if (await this.has(cid)) return cid
    await mkdir(join(path, '..'), { recursive: true })
    const tmp = `${path}.${randomBytes(6).toString('hex')}.tmp`
    const fh = await open(tmp, 'w')
    try {
      await fh.writeFile(bytes)
    } finally {
      await fh.close()
    }
    await rename(tmp, path).catch(async (err: unknown) => { await rm(tmp, { force: true }); throw err })
    return cid
  }

  async get(cid: CID): Promise<Uint8Array> {
    let bytes: Uint8Array
    try {
      bytes = await readFile(this.path(cid))
    } catch {
      throw new NotFoundError(`block ${cidText(cid)} is not in the embedded store at ${this.dir}`)
    }
    const digest = await sha256.digest(bytes)
    if (cid.multihash.code !== sha256.code || !equalBytes(digest.digest, cid.multihash.digest)) {
      throw new IntegrityError(`block ${cidText(cid)} in ${this.dir} does not match its CID (corrupt store?)`)
    }
    return bytes
  }
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.byteLength === b.byteLength && Buffer.compare(a, b) === 0
}

/** IPFS without a daemon: the same blocks and CIDs kubo would make, kept on local disk. */
export class EmbeddedIpfs implements IpfsBackend {
  readonly description: string
  readonly blocks: DiskBlockstore

  constructor(readonly root: string = ipcrRoot()) {
    this.blocks = new DiskBlockstore(join(root, 'blocks'))
    this.description = `embedded store at ${root}`
  }

  async add(bytes: AsyncIterable<Uint8Array>): Promise<CID> {
    return cidOf(bytes, this.blocks)
  }

  /** Walk the UnixFS DAG depth-first, yielding the file bytes in [offset, offset+length). */
  async *cat(cid: CID, options: { offset?: number; length?: number } = {}): AsyncGenerator<Uint8Array> {
    const start = options.offset ?? 0
    const end = options.length === undefined ? Infinity : start + options.length
    yield* this.walk(cid, 0, start, end)
  }

  private async *walk(cid: CID, base: number, start: number, end: number): AsyncGenerator<Uint8Array> {
    const block = await this.blocks.get(cid)
    if (cid.code === raw.code) {
      const from = Math.max(0, start - base)
      const to = Math.min(block.byteLength, end - base)
      if (to > from) yield block.subarray(from, to)
      return
    }
    if (cid.code !== dagPb.code) throw new IntegrityError(`block ${cidText(cid)} is neither raw nor dag-pb`)
    const node = dagPb.decode(block)
    const fs = node.Data ? UnixFS.unmarshal(node.Data) : undefined
    if (!fs || (fs.type !== 'file' && fs.type !== 'raw')) throw new IntegrityError(`block ${cidText(cid)} is not a UnixFS file`)
    let offset = base
    if (fs.data && fs.data.byteLength > 0) {
      const from = Math.max(0, start - offset)
      const to = Math.min(fs.data.byteLength, end - offset)
      if (to > from) yield fs.data.subarray(from, to)
      offset += fs.data.byteLength
    }
    for (const [i, link] of node.Links.entries()) {
      const size = Number(fs.blockSizes[i] ?? 0n)
      if (offset + size > start && offset < end) yield* this.walk(link.Hash, offset, start, end)
      offset += size
      if (offset >= end) return
    }
  }

  async ipns(): Promise<IpnsService> {
    const { EmbeddedIpns } = await import('./embedded-ipns.js')
    return new EmbeddedIpns(join(this.root, 'ipns'))
  }

  async close(): Promise<void> { /* nothing held open */ }
}

export { CID }
