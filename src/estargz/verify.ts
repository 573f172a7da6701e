/**
 * Check a whole eStargz blob: the TOC against the digest the manifest promises, that the footer
 * and every payload offset lie inside the blob, every chunk against its chunkDigest and every
 * regular file against its whole-file digest. Failures are IntegrityErrors naming what is wrong.
 */
import { createHash } from 'node:crypto'
import type { Digest } from '../oci/digest.js'
import { ChunkDigestMismatchError, EstargzFormatError, TruncatedBlobError } from './errors.js'
import { EstargzReader } from './reader.js'
import type { RandomAccessSource } from './source.js'

export interface VerifyOptions {
  /** The toc.digest annotation; required, as the TOC is what vouches for every chunk. */
  tocDigest: Digest | string
  /** The descriptor's size, when known: a shorter blob is reported as truncated. */
  size?: number
  signal?: AbortSignal
}

export interface VerifyReport {
  tocDigest: Digest
  entries: number
  files: number
  chunks: number
}

export async function verifyEstargz(source: RandomAccessSource, opts: VerifyOptions): Promise<VerifyReport> {
  if (opts.size !== undefined && source.size !== opts.size) {
    const what = source.size < opts.size ? 'truncated' : 'longer than its descriptor'
    throw new TruncatedBlobError(`eStargz blob is ${what}: ${source.size} bytes, expected ${opts.size}`)
  }
  const r = await EstargzReader.open(source, { tocDigest: opts.tocDigest })
  // As Go's Verifiers: payload offsets are unique, and every payload has a digest to check.
  const seen = new Map<string, string>()
  let files = 0
  let chunks = 0
  for (const [name, e] of r.entries()) {
    if (e.type !== 'reg' || (e.size ?? 0) === 0) continue
    if (e.digest === undefined) throw new EstargzFormatError(`${name}: no digest in the TOC`)
    const f = r.file(name)
    const whole = createHash('sha256')
    for (const c of f.chunks) {
      opts.signal?.throwIfAborted()
      const key = `${c.offset}+${c.innerOffset}`
      const other = seen.get(key)
      if (other !== undefined && other !== name) throw new EstargzFormatError(`${name} and ${other} claim the same payload at blob offset ${c.offset}`)
      seen.set(key, name)
      whole.update(await r.readChunk(name, c))
      chunks++
    }
    const got = `sha256:${whole.digest('hex')}`
    if (got !== e.digest) throw new ChunkDigestMismatchError(`${name}: content digest is ${got}, TOC says ${e.digest}`, name, 0)
    files++
  }
  return { tocDigest: r.tocDigest, entries: r.toc.entries.length, files, chunks }
}
