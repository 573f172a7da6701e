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
 * Blocks as files named by CID under `<root>/blocks/<2 chars>/`, written to a temp name, fsync'd
 * and renamed, so neither a crash nor a power cut leaves a torn or empty block under a valid name;
 * flush() then fsyncs the directories, making the renames durable, and every add ends with it.
 * A block's fsync and rename run in the background while the next blocks are made, and flush()
 * waits for them: one fsync after another cost a third more push time (bench in the commit).
 * Every block read back is hashed against its CID.
 */
export class DiskBlockstore {
  /** Blocks written but not yet synced and renamed, and directories whose renames are not yet durable. */
  private readonly landing = new Set<Promise<void>>()
  private readonly unsynced = new Set<string>()

  constructor(readonly dir: string) {}

  private path(cid: CID): string {
    const key = cidText(cid)
    return join(this.dir, key.slice(-3, -1), key)
  }

  async has(cid: CID): Promise<boolean> {
    return stat(this.path(cid)).then(() => true, () => false)
  }

  /** Store a block; it is in place (and durable) once flush() has resolved. */
  async put(cid: CID, bytes: Uint8Array): Promise<CID> {
    const path = this.path(cid)
    if (await this.has(cid)) return cid
    const dir = join(path, '..')
    await mkdir(dir, { recursive: true })
    const tmp = `${path}.${randomBytes(6).toString('hex')}.tmp`
    const fh = await open(tmp, 'w')
    const landed = (async () => {
      try {
        await fh.writeFile(bytes)
        await fh.datasync()
      } finally {
        await fh.close()
      }
      await rename(tmp, path)
      this.unsynced.add(dir)
    })().catch(async (err: unknown) => { await rm(tmp, { force: true }); throw err })
    const tracked = landed.finally(() => this.landing.delete(tracked))
    tracked.catch(() => undefined) // flush() reports it
    this.landing.add(tracked)
    return cid
  }

  /** Wait for every block put so far (concurrent adds' too), then make their renames durable. */
  async flush(): Promise<void> {
    await Promise.all([...this.landing])
    const dirs = [...this.unsynced]
    this.unsynced.clear()
    await Promise.all(dirs.map(syncDir))
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

async function syncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r')
  try {
    await fh.sync()
  } finally {
    await fh.close()
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
    const cid = await cidOf(bytes, this.blocks)
    await this.blocks.flush()
    return cid
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
