import { mkdir, open, readFile, rename, stat, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { homedir } from 'node:os'
import { sha256 } from 'multiformats/hashes/sha2'
import { CID } from 'multiformats/cid'
import { IntegrityError, NotFoundError } from '../errors.js'
import type { IpfsBackend } from './backend.js'
import type { IpnsService } from './ipns.js'
import { cidOf, cidText } from './cid.js'
import { catUnixfs } from './unixfs.js'

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

  /** The file's bytes in [offset, offset+length), every block checked against its CID as it is read. */
  cat(cid: CID, options: { offset?: number; length?: number; signal?: AbortSignal } = {}): AsyncGenerator<Uint8Array> {
    return catUnixfs((c) => this.blocks.get(c), cid, options)
  }

  async ipns(): Promise<IpnsService> {
    const { EmbeddedIpns } = await import('./embedded-ipns.js')
    return new EmbeddedIpns(join(this.root, 'ipns'))
  }

  async close(): Promise<void> { /* nothing held open */ }
}

export { CID }
