/**
 * One gzip member exactly as Go's gzip.NewWriterLevel(w, level) + Write + Close writes it (no
 * name, comment or mtime; OS 255), so an eStargz layer built here has the bytes, and so the
 * digests and CIDs, that ctr-remote and nerdctl give the same layer.
 */
import { crc32 } from 'node:zlib'
import { BEST_COMPRESSION, BEST_SPEED, Deflater } from './compressor.js'
import { GzipClosedError } from './errors.js'

export class GzipMember {
  private readonly deflater: Deflater
  private crc = 0
  private size = 0
  private closed = false

  /** level: -2 (Huffman only) to 9; -1 is Go's default, 6. `deflater`: a reset one of that level to reuse. */
  constructor(readonly level: number, deflater?: Deflater) {
    this.deflater = deflater ?? new Deflater(level)
    // XFL says "best compression" or "fastest" only for exactly those levels, as Go does.
    const xfl = level === BEST_COMPRESSION ? 2 : level === BEST_SPEED ? 4 : 0
    const header = Uint8Array.of(0x1f, 0x8b, 8, 0, 0, 0, 0, 0, xfl, 0xff)
    this.deflater.out.writeBytes(header, 0, header.length)
  }

  /** The Deflater, for gzipMember to reset and reuse once this member is closed. */
  get deflaterForReuse(): Deflater {
    return this.deflater
  }

  write(bytes: Uint8Array): void {
    if (this.closed) throw new GzipClosedError()
    if (bytes.length === 0) return
    this.crc = crc32(bytes, this.crc)
    this.size = (this.size + bytes.length) >>> 0
    this.deflater.write(bytes)
  }

  /** Go's gzip.Writer.Flush: everything written so far becomes output, ending on a sync marker. */
  flush(): void {
    if (this.closed) throw new GzipClosedError()
    this.deflater.flush()
  }

  /** Compressed bytes finished so far (a member streamed out piece by piece). */
  take(): Uint8Array {
    return this.deflater.out.take()
  }

  /** Bytes waiting in take(). */
  get pending(): number {
    return this.deflater.out.length
  }

  /** End the member; returns the rest of its bytes, trailer included. */
  close(): Uint8Array {
    if (!this.closed) {
      this.closed = true
      this.deflater.close()
      const trailer = new Uint8Array(8)
      const view = new DataView(trailer.buffer)
      view.setUint32(0, this.crc >>> 0, true)
      view.setUint32(4, this.size, true)
      this.deflater.out.writeBytes(trailer, 0, 8)
    }
    return this.take()
  }
}

// One idle Deflater per level, so that whole members compressed one after another (a gzip
// worker's life) reuse their ~1 MB of tables instead of allocating and faulting them in anew.
const idle = new Map<number, Deflater>()

/** `data` as one gzip member, as Go writes it at `level` (with a Flush before the Close if `flush`). */
export function gzipMember(data: Uint8Array, level: number, flush = false): Uint8Array {
  const cached = idle.get(level)
  idle.delete(level)
  cached?.reset()
  const m = new GzipMember(level, cached)
  m.write(data)
  if (flush) m.flush()
  const out = m.close()
  idle.set(level, m.deflaterForReuse)
  return out
}
