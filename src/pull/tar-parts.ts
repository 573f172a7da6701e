import { createHash, type Hash } from 'node:crypto'
import { posix } from 'node:path'
import { TarScanner, type TarEntry } from '../estargz/tar.js'
import type { Digest } from '../oci/digest.js'

/** A base layer that cannot be applied in parts without changing what it unpacks to. */
export class NotSplittableError extends Error {
  override name = 'NotSplittableError'
}

export interface TarPartsOptions {
  /** The first part is small, so that unpacking starts early. */
  firstPartBytes: number
  partBytes: number
}

/**
 * Cuts an uncompressed base layer, as it streams, into tar archives that containerd can apply one
 * after another onto the same snapshot with the same result as the whole layer at once.
 *
 * Cuts fall on entry boundaries (an entry's PAX or GNU long-name header stays with it); Go's tar
 * reader ends an archive cleanly at a boundary, so a part needs no end-of-archive blocks. Two things
 * containerd does at the end of an Apply would differ between parts: it sets directory times last
 * (creating a file in a directory changes its mtime), and an opaque whiteout removes what the same
 * Apply did not unpack. So the last part, from end(), holds the header of every directory again
 * (applying it to the existing directory sets mode, owner, xattrs and times as before), and a layer
 * with any whiteout is refused: in a base layer whiteouts do nothing useful, so this costs nothing
 * in practice, and the caller applies such a layer whole.
 */
export class TarParts {
  private readonly hash: Hash = createHash('sha256')
  private readonly scanner = new TarScanner((e) => this.entry(e))
  /** Bytes from `heldFrom` (a stream offset) on, in arrival order. */
  private held: Buffer[] = []
  private heldFrom = 0
  private heldBytes = 0
  /** Where the part being assembled starts, as decided (partFrom) and as handed out (cutFrom). */
  private partFrom = 0
  private cutFrom = 0
  private target: number
  private cuts: number[] = []
  /** Each directory's header blocks, by cleaned name; the last header of a name wins, as in containerd. */
  private readonly dirs = new Map<string, Buffer>()
  private digest: Digest | undefined

  constructor(private readonly o: TarPartsOptions) {
    this.target = o.firstPartBytes
  }

  /** Feed the next bytes of the stream; returns the parts completed by them. */
  push(chunk: Uint8Array): Buffer[] {
    const b = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength)
    this.hash.update(b)
    this.held.push(b)
    this.heldBytes += b.length
    this.scanner.push(b)
    const parts: Buffer[] = []
    let from = this.cutFrom
    for (const cut of this.cuts.splice(0)) {
      parts.push(this.take(from, cut))
      from = cut
    }
    this.cutFrom = from
    return parts
  }

  /** The stream has ended: the rest of it, then the directory part. */
  end(): Buffer[] {
    this.scanner.finish()
    this.digest = `sha256:${this.hash.digest('hex')}`
    const parts: Buffer[] = []
    const end = this.heldFrom + this.heldBytes
    if (end > this.cutFrom) parts.push(this.take(this.cutFrom, end))
    // Two zero blocks: a well-formed end, though Go would stop at the boundary anyway.
    parts.push(Buffer.concat([...this.dirs.values(), Buffer.alloc(1024)]))
    return parts
  }

  /** sha256 of everything pushed (the layer's diff ID), once end() has run. */
  get diffId(): Digest {
    if (this.digest === undefined) throw new Error('TarParts.diffId read before end()')
    return this.digest
  }

  private entry(e: TarEntry): void {
    const name = posix.normalize(`/${e.name}`).replace(/(.)\/+$/, '$1')
    const base = posix.basename(name)
    if (base.startsWith('.wh.')) throw new NotSplittableError(`${e.name} is a whiteout`)
    if (e.type === 'dir') {
      this.dirs.delete(name)
      this.dirs.set(name, this.copy(e.headerStart, e.dataStart))
    } else if (this.dirs.has(name)) {
      // A non-directory replaces the directory and everything under it.
      for (const d of this.dirs.keys()) if (d === name || d.startsWith(`${name}/`)) this.dirs.delete(d)
    }
    if (e.headerStart - this.partFrom >= this.target) {
      this.cuts.push(e.headerStart)
      this.partFrom = e.headerStart
      this.target = this.o.partBytes
    }
  }

  /** Bytes [from, to) of the stream, still held, as one buffer. */
  private copy(from: number, to: number): Buffer {
    const out = Buffer.allocUnsafe(to - from)
    let at = this.heldFrom
    let n = 0
    for (const b of this.held) {
      const end = at + b.length
      if (end > from && at < to) {
        const s = Math.max(from, at) - at
        const e = Math.min(to, end) - at
        n += b.copy(out, n, s, e)
      }
      at = end
      if (at >= to) break
    }
    return out
  }

  /** Bytes [from, to) as one buffer, dropping what is held before `to`. */
  private take(from: number, to: number): Buffer {
    const out = this.copy(from, to)
    while (this.held.length > 0) {
      const first = this.held[0] as Buffer
      if (this.heldFrom + first.length > to) break
      this.held.shift()
      this.heldFrom += first.length
      this.heldBytes -= first.length
    }
    return out
  }
}
