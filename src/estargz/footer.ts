/**
 * The eStargz footer: an empty gzip member whose FEXTRA field holds the TOC member's offset as
 * `%016x` + `STARGZ`. The current footer wraps it in an RFC 1952 subfield `SG` (51 bytes); the
 * legacy stargz footer puts the 22 bytes straight in the extra field (47 bytes).
 */
import { FOOTER_SIZE, LEGACY_FOOTER_SIZE } from './constants.js'

const MAGIC = 'STARGZ'

export function footerBytes(tocOffset: number): Buffer {
  if (!Number.isSafeInteger(tocOffset) || tocOffset < 0) throw new RangeError(`bad TOC offset ${tocOffset}`)
  const subfield = tocOffset.toString(16).padStart(16, '0') + MAGIC
  const out = Buffer.alloc(FOOTER_SIZE)
  out.set([0x1f, 0x8b, 0x08, 0x04, 0, 0, 0, 0, 0, 0xff]) // FEXTRA, MTIME 0, XFL 0, OS unknown
  out.writeUInt16LE(4 + subfield.length, 10) // XLEN
  out.write('SG', 12, 'latin1')
  out.writeUInt16LE(subfield.length, 14)
  out.write(subfield, 16, 'latin1')
  out.set([0x01, 0x00, 0x00, 0xff, 0xff], 38) // final stored block of length 0; CRC32 and ISIZE stay 0
  return out
}

export interface Footer {
  tocOffset: number
  footerSize: number
}

/** Parse the blob's tail (at least 51 bytes when the blob has them); undefined when it is no footer. */
export function parseFooter(tail: Uint8Array): Footer | undefined {
  if (tail.length >= FOOTER_SIZE) {
    const f = tail.subarray(tail.length - FOOTER_SIZE)
    const extra = gzipExtra(f)
    if (extra && extra.length === 26 && extra[0] === 0x53 && extra[1] === 0x47 && extra[2] === 22 && extra[3] === 0) {
      const off = parseOffset(extra.subarray(4))
      if (off !== undefined) return { tocOffset: off, footerSize: FOOTER_SIZE }
    }
  }
  if (tail.length >= LEGACY_FOOTER_SIZE) {
    const extra = gzipExtra(tail.subarray(tail.length - LEGACY_FOOTER_SIZE))
    if (extra && extra.length === 22) {
      const off = parseOffset(extra)
      if (off !== undefined) return { tocOffset: off, footerSize: LEGACY_FOOTER_SIZE }
    }
  }
  return undefined
}

function gzipExtra(b: Uint8Array): Uint8Array | undefined {
  if (b[0] !== 0x1f || b[1] !== 0x8b || b[2] !== 0x08 || ((b[3] ?? 0) & 0x04) === 0) return undefined
  const xlen = (b[10] ?? 0) | ((b[11] ?? 0) << 8)
  if (12 + xlen > b.length) return undefined
  return b.subarray(12, 12 + xlen)
}

function parseOffset(field: Uint8Array): number | undefined {
  const text = Buffer.from(field).toString('latin1')
  if (!/^[0-9a-fA-F]{16}STARGZ$/.test(text)) return undefined
  const n = Number.parseInt(text.slice(0, 16), 16)
  return Number.isSafeInteger(n) ? n : undefined
}
