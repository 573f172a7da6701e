import { setTimeout as sleep } from 'node:timers/promises'
import { IntegrityError, UnavailableError } from '../errors.js'
import type { Descriptor } from '../oci/descriptor.js'
import { sha256Digest, verifyStream } from '../oci/digest.js'
import type { CallOptions, Connection, OrderedStream } from './connection.js'
import { AlreadyExistsError, ContainerdError } from './errors.js'
import type { CallScope } from './metadata.js'
import { Abort, labelUpdate, Update, Write, type WriteRequest, type WriteResponse } from './content-rpc.js'
import { toNumber } from './wire.js'

/**
 * A blob's bytes: already in memory, a stream from its start, or a function that can start at an
 * offset (so a write containerd already holds part of resumes without re-reading that part).
 * Chunks a stream yields are sent as they are, not copied: a source must not reuse them.
 */
export type BlobBytes = Uint8Array | AsyncIterable<Uint8Array> | ((offset: number) => AsyncIterable<Uint8Array>)

export interface WriteOptions extends CallOptions {
  /** The ingest's name; a second writer of the same ref waits for the first. Default `ipcr-<digest>`. */
  ref?: string
  /** Labels for the blob (`containerd.io/uncompressed`, gc refs), set on commit or added to a blob already there. */
  labels?: Record<string, string>
  /** Bytes per Write message; 1 MiB like containerd's own client. */
  chunkBytes?: number
  /** WRITE messages sent ahead of containerd's answers; 4. */
  writesInFlight?: number
  /** How long to wait for another writer holding the ref; 60 s. */
  lockWaitMs?: number
}

export interface WriteResult {
  /** False when containerd already had the blob. */
  written: boolean
  /** Where the write started: non-zero when it resumed an earlier, interrupted one. */
  resumedAt: number
}

type Target = Pick<Descriptor, 'digest' | 'size'>

/**
 * Content.Write as containerd's client does it: STAT (with ref, total and expected digest) opens or
 * resumes the ingest, WRITEs append at the offset it reports, COMMIT makes containerd check size and
 * digest. ALREADY_EXISTS at any step means the blob is there: success. Bytes that fail our own check
 * abort the ingest, so nothing of them stays behind. Unlike containerd's client, a few WRITEs are
 * sent ahead of their answers (containerd answers each in order, with the offset it reached), so
 * a blob streams without a round trip per message.
 */
export async function writeContent(conn: Connection, scope: CallScope, desc: Target, bytes: BlobBytes, opts: WriteOptions = {}): Promise<WriteResult> {
  const ref = opts.ref ?? `ipcr-${desc.digest}`
  const deadline = Date.now() + (opts.lockWaitMs ?? 60_000)
  for (let wait = 16; ; wait = Math.min(wait * 2, 2000)) {
    try {
      return await writeOnce(conn, scope, ref, desc, bytes, opts)
    } catch (err) {
      if (!isRefLocked(err) || Date.now() + wait > deadline) throw err
      await sleep(wait, undefined, { signal: opts.signal })
    }
  }
}

async function writeOnce(conn: Connection, scope: CallScope, ref: string, desc: Target, bytes: BlobBytes, opts: WriteOptions): Promise<WriteResult> {
  const chunkBytes = opts.chunkBytes ?? 1 << 20
  if (bytes instanceof Uint8Array && bytes.byteLength <= chunkBytes) return writeWhole(conn, scope, ref, desc, bytes, opts)
  const stream = conn.orderedStream(Write(), scope, opts)
  let resumedAt = 0
  try {
    const status = await stream.send({ action: 'STAT', ref, total: String(desc.size), expected: desc.digest })
    resumedAt = toNumber(status.offset)
    if (resumedAt > desc.size) resumedAt = 0 // not this blob's bytes: a WRITE at offset 0 truncates
    let offset = resumedAt
    // The offsets containerd must answer with, oldest first.
    const pending: number[] = []
    const confirm = async (): Promise<void> => {
      const expected = pending.shift() as number
      const reached = toNumber((await stream.answer()).offset)
      if (reached !== expected) throw new ContainerdError(`${desc.digest}: containerd reached offset ${reached} where ${expected} was written`, 'DATA_LOSS')
    }
    const ahead = Math.max(1, opts.writesInFlight ?? 4)
    try {
      for await (const { parts, length } of rechunk(source(desc, bytes, resumedAt), chunkBytes)) {
        stream.write({ action: 'WRITE', offset: String(offset), data: parts })
        offset += length
        pending.push(offset)
        if (pending.length >= ahead) await confirm()
      }
    } catch (err) {
      // The source failed: let containerd take what was already sent, so a rerun resumes after it.
      while (pending.length > 0 && !(err instanceof ContainerdError)) await confirm().catch(() => { pending.length = 0 })
      throw err
    }
    while (pending.length > 0) await confirm()
    if (offset !== desc.size) throw new IntegrityError(`${desc.digest}: ${offset} bytes where its descriptor claims ${desc.size}`)
    await commit(stream, desc, offset, opts.labels)
    await stream.finish()
    return { written: true, resumedAt }
  } catch (err) {
    stream.cancel()
    return afterFailure(conn, scope, ref, desc, opts, resumedAt, err)
  }
}

/**
 * A small blob in memory, checked here and sent as one COMMIT message carrying all of its bytes:
 * one round trip instead of STAT, WRITE and COMMIT. Offset 0 makes containerd drop whatever an
 * interrupted earlier write left in the ingest.
 */
async function writeWhole(conn: Connection, scope: CallScope, ref: string, desc: Target, bytes: Uint8Array, opts: WriteOptions): Promise<WriteResult> {
  if (bytes.byteLength !== desc.size) throw new IntegrityError(`${desc.digest}: ${bytes.byteLength} bytes where its descriptor claims ${desc.size}`)
  const actual = sha256Digest(bytes)
  if (actual !== desc.digest) throw new IntegrityError(`${desc.digest}: the bytes hash to ${actual}`)
  const stream = conn.orderedStream(Write(), scope, opts)
  try {
    await commit(stream, desc, 0, opts.labels, bytes, ref)
    await stream.finish()
    return { written: true, resumedAt: 0 }
  } catch (err) {
    stream.cancel()
    return afterFailure(conn, scope, ref, desc, opts, 0, err)
  }
}

/** ALREADY_EXISTS means the blob is there (labels are added to it); bytes that failed a check are dropped. */
async function afterFailure(conn: Connection, scope: CallScope, ref: string, desc: Target, opts: WriteOptions, resumedAt: number, err: unknown): Promise<WriteResult> {
  if (err instanceof AlreadyExistsError) {
    if (opts.labels !== undefined && Object.keys(opts.labels).length > 0) {
      await conn.unary(Update(), labelUpdate(desc.digest, opts.labels), scope, opts)
    }
    return { written: false, resumedAt }
  }
  if (err instanceof IntegrityError) {
    await conn.unary(Abort(), { ref }, scope).catch(() => undefined)
  }
  throw err
}

/**
 * COMMIT, optionally carrying the last bytes (at `offset`), and check what containerd says it
 * committed; its own size/digest check failing is FAILED_PRECONDITION, which is an IntegrityError
 * to us. `ref` opens the ingest when COMMIT comes first.
 */
async function commit(stream: OrderedStream<WriteRequest, WriteResponse>, desc: Target, offset: number, labels?: Record<string, string>, data?: Uint8Array, ref?: string): Promise<void> {
  let done: WriteResponse
  try {
    done = await stream.send({
      action: 'COMMIT', offset: String(offset), total: String(desc.size), expected: desc.digest, ...(labels ? { labels } : {}),
      ...(data ? { data } : {}), ...(ref ? { ref } : {}),
    })
  } catch (err) {
    if (err instanceof ContainerdError && err.code === 'FAILED_PRECONDITION') {
      throw new IntegrityError(`${desc.digest}: containerd refused the commit: ${err.message}`, { cause: err })
    }
    throw err
  }
  if (done.digest !== desc.digest || toNumber(done.offset) !== desc.size) {
    throw new IntegrityError(`${desc.digest}: containerd committed ${done.digest} (${done.offset} bytes)`)
  }
}

/** The bytes still to send: verified by us when we see the whole blob, else by containerd at commit. */
function source(desc: Target, bytes: BlobBytes, offset: number): AsyncIterable<Uint8Array> {
  if (typeof bytes === 'function') return offset === 0 ? verifyStream(desc, bytes(0)) : bytes(offset)
  const verified = verifyStream(desc, bytes instanceof Uint8Array ? whole(bytes) : bytes)
  return offset === 0 ? verified : skip(verified, offset)
}

async function* whole(bytes: Uint8Array): AsyncGenerator<Uint8Array> {
  yield bytes
}

async function* skip(source: AsyncIterable<Uint8Array>, bytes: number): AsyncGenerator<Uint8Array> {
  let left = bytes
  for await (const chunk of source) {
    if (left >= chunk.byteLength) { left -= chunk.byteLength; continue }
    yield left > 0 ? chunk.subarray(left) : chunk
    left = 0
  }
}

/**
 * Groups of exactly `size` bytes (the last may be shorter), so messages are neither tiny nor too
 * big. A group is the pieces as they came, not joined: the encoder writes them out one by one.
 */
export async function* rechunk(source: AsyncIterable<Uint8Array>, size: number): AsyncGenerator<{ parts: Uint8Array[]; length: number }> {
  let parts: Uint8Array[] = []
  let held = 0
  for await (let chunk of source) {
    while (held + chunk.byteLength >= size) {
      const take = size - held
      parts.push(chunk.subarray(0, take))
      yield { parts, length: size }
      parts = []
      held = 0
      chunk = chunk.subarray(take)
    }
    if (chunk.byteLength > 0) { parts.push(chunk); held += chunk.byteLength }
  }
  if (held > 0) yield { parts, length: held }
}

function isRefLocked(err: unknown): boolean {
  return err instanceof UnavailableError && / locked for /.test(err.message)
}
