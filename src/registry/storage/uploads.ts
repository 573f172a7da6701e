import { createHash, randomUUID, type Hash } from 'node:crypto'
import { mkdir, open, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { Digest } from '../../oci/digest.js'
import { readRange, writeFileAtomic } from '../../util/fs-util.js'
import { RegistryError } from '../errors.js'

/** An upload in progress: its id (the last part of its Location), repository and bytes so far. */
export interface UploadSession {
  id: string
  repo: string
  startedAt: number
  /** Bytes received so far: the next chunk must start here. */
  offset: number
}

export interface UploadAreaOptions {
  /** A session untouched this long is gone (BLOB_UPLOAD_UNKNOWN) and its bytes removed. */
  ttlMs: number
  /** No blob grows past this (--max-layer-size): an upload that would is refused, not spooled. */
  maxBlobSize: number
}

/** How many bytes of a request's body are written to its upload's file at once. */
const WRITE_BATCH = 512 << 10

const idPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/

/**
 * Upload sessions as distribution keeps them: a directory per session in a temp area, the bytes in
 * one file that chunks append to. Nothing here is a blob yet: only a commit whose digest checks
 * (commitBlob) makes one, so a session that is cancelled, expires or dies with the server (kill -9)
 * leaves no trace but its directory, which expiry removes. A session outlives a restart, so a
 * client may ask where it stands and go on.
 *
 * The digest is computed as chunks arrive (one pass); only a session resumed after a restart,
 * whose hash state died with the old process, is read back once to hash it. A session whose
 * digest checked is sealed (seal) until its blob is kept: see PushedBlobs.accept.
 */
export class UploadArea {
  private readonly hashes = new Map<string, { hash: Hash; offset: number }>()
  private readonly busy = new Set<string>()
  /** Sessions whose bytes checked out and wait for their blob's add (seal). */
  private readonly sealedIds = new Set<string>()

  constructor(private readonly dir: string, private readonly o: UploadAreaOptions) {}

  async start(repo: string): Promise<UploadSession> {
    const id = randomUUID()
    const session: UploadSession = { id, repo, startedAt: Date.now(), offset: 0 }
    await mkdir(this.sessionDir(id), { recursive: true })
    await writeFile(this.dataPath(id), Buffer.alloc(0))
    await writeFile(join(this.sessionDir(id), 'session.json'), JSON.stringify({ repo, startedAt: session.startedAt }))
    this.hashes.set(id, { hash: createHash('sha256'), offset: 0 })
    return session
  }

  /** The session `id` of `repo`, or BLOB_UPLOAD_UNKNOWN (never started, finished, cancelled, expired, or another repository's). */
  async get(repo: string, id: string): Promise<UploadSession> {
    const unknown = new RegistryError('BLOB_UPLOAD_UNKNOWN', `no upload ${id.slice(0, 64)} is in progress in ${repo}`)
    if (!idPattern.test(id)) throw unknown
    const meta = await this.meta(id)
    if (meta?.repo !== repo) throw unknown
    const data = await stat(this.dataPath(id)).catch(() => undefined)
    if (data === undefined || this.sealedIds.has(id)) throw unknown
    if (Date.now() - data.mtimeMs > this.o.ttlMs) {
      await this.remove(id)
      throw unknown
    }
    return { id, repo, startedAt: meta.startedAt, offset: data.size }
  }

  /**
   * Append a chunk. `start` (from Content-Range) must be where the session stands, else 416 with
   * the session's range, as the spec says for a chunk out of order; `length`, when the client
   * declared one, must be what arrived.
   */
  async append(session: UploadSession, body: AsyncIterable<Uint8Array>, o: { start?: number; length?: number } = {}): Promise<UploadSession> {
    if (o.start !== undefined && o.start !== session.offset) {
      throw new RegistryError('RANGE_INVALID', `the chunk starts at byte ${o.start}; the upload holds ${session.offset} bytes, so the next chunk starts there`, { range: rangeHeader(session.offset) })
    }
    if (this.busy.has(session.id)) throw new RegistryError('BLOB_UPLOAD_INVALID', 'another request is writing to this upload; send its chunks one at a time')
    this.busy.add(session.id)
    const state = this.hashes.get(session.id)
    const hashing = state !== undefined && state.offset === session.offset ? state : undefined
    if (!hashing) this.hashes.delete(session.id)
    const fh = await open(this.dataPath(session.id), 'a')
    let offset = session.offset
    // The request's chunks (64 KiB from node:http) go to the file 512 KiB at a time, in one writev:
    // a write per chunk cost twice the CPU (40-50 vs ~20 ms per 63 MiB, measured; 1 MiB batches
    // gain nothing more), on a push that is CPU-bound on two cores. What a stalled client sent
    // last waits in memory until the batch fills; a resumed upload goes on from what is on disk.
    let pending: Uint8Array[] = []
    let pendingBytes = 0
    const flush = async (): Promise<void> => {
      if (pending.length === 0) return
      const batch = pending
      pending = []
      pendingBytes = 0
      await fh.writev(batch)
    }
    try {
      for await (const chunk of body) {
        offset += chunk.byteLength
        if (offset > this.o.maxBlobSize) throw new RegistryError('SIZE_INVALID', `the blob would exceed ${this.o.maxBlobSize} bytes (the server's --max-layer-size)`)
        hashing?.hash.update(chunk)
        pending.push(chunk)
        pendingBytes += chunk.byteLength
        if (pendingBytes >= WRITE_BATCH) await flush()
      }
      await flush()
      if (o.length !== undefined && offset - session.offset !== o.length) {
        throw new RegistryError('SIZE_INVALID', `the chunk declared ${o.length} bytes and carried ${offset - session.offset}`)
      }
    } catch (err) {
      // A chunk that failed part-way is taken back whole: the session stays where the last good chunk left it.
      await fh.truncate(session.offset).catch(() => undefined)
      this.hashes.delete(session.id)
      throw err
    } finally {
      await fh.close()
      this.busy.delete(session.id)
    }
    if (hashing) hashing.offset = offset
    return { ...session, offset }
  }

  /** The digest of everything uploaded so far. */
  async digest(session: UploadSession): Promise<Digest> {
    const state = this.hashes.get(session.id)
    if (state && state.offset === session.offset) return `sha256:${state.hash.copy().digest('hex')}`
    const hash = createHash('sha256')
    for await (const chunk of readRange(this.dataPath(session.id))) hash.update(chunk)
    return `sha256:${hash.digest('hex')}`
  }

  /**
   * The session's bytes hash to `digest` and are to become that blob: no client can write to or
   * ask after the session any more, expiry leaves it alone, and a restart finds it (sealed()) to
   * finish the commit, so a blob whose commit was answered is not lost with the process.
   */
  async seal(session: UploadSession, digest: Digest): Promise<void> {
    await writeFileAtomic(this.sealPath(session.id), Buffer.from(JSON.stringify({ digest })))
    this.sealedIds.add(session.id)
    this.hashes.delete(session.id)
  }

  /** Every sealed session (a restart's unfinished commits) with the digest it was sealed as. */
  async sealed(): Promise<Array<{ session: UploadSession; digest: Digest }>> {
    const out: Array<{ session: UploadSession; digest: Digest }> = []
    for (const id of await this.ids()) {
      const seal = await readFile(this.sealPath(id), 'utf8').then((t) => JSON.parse(t) as { digest: Digest }, () => undefined)
      const meta = await this.meta(id)
      const data = await stat(this.dataPath(id)).catch(() => undefined)
      if (!seal || !meta || !data) continue
      this.sealedIds.add(id)
      out.push({ session: { id, repo: meta.repo, startedAt: meta.startedAt, offset: data.size }, digest: seal.digest })
    }
    return out
  }

  /** The session's bytes as its commit checked them (the first `offset`), for the commit to add to IPFS. */
  bytes(session: UploadSession): AsyncIterable<Uint8Array> {
    return readRange(this.dataPath(session.id), 0, session.offset)
  }

  async remove(id: string): Promise<void> {
    this.hashes.delete(id)
    this.sealedIds.delete(id)
    await rm(this.sessionDir(id), { recursive: true, force: true })
  }

  /** Remove sessions untouched for longer than the TTL (at start, and now and then); returns how many. */
  async sweep(): Promise<number> {
    let removed = 0
    for (const id of await this.ids()) {
      const touched = await stat(this.dataPath(id)).then((s) => s.mtimeMs, () => 0)
      if (Date.now() - touched <= this.o.ttlMs || this.busy.has(id)) continue
      // Sealed sessions wait for their blob's add, however old their bytes (seal).
      if (this.sealedIds.has(id) || (await stat(this.sealPath(id)).then(() => true, () => false))) continue
      await this.remove(id)
      removed++
    }
    return removed
  }

  private sessionDir(id: string): string {
    return join(this.dir, id)
  }

  /** The ids of every session in the area. */
  private async ids(): Promise<string[]> {
    return (await readdir(this.dir).catch(() => [] as string[])).filter((n) => idPattern.test(n))
  }

  /** What start() wrote of a session, or undefined when there is no such session. */
  private meta(id: string): Promise<{ repo: string; startedAt: number } | undefined> {
    return readFile(join(this.sessionDir(id), 'session.json'), 'utf8').then((t) => JSON.parse(t) as { repo: string; startedAt: number }, () => undefined)
  }

  private sealPath(id: string): string {
    return join(this.dir, id, 'sealed.json')
  }

  private dataPath(id: string): string {
    return join(this.dir, id, 'data')
  }
}

/** The spec's Range header for an upload holding `offset` bytes (distribution writes 0-0 for none). */
export function rangeHeader(offset: number): string {
  return `0-${Math.max(offset - 1, 0)}`
}
