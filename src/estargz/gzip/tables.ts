/**
 * DEFLATE's fixed tables (RFC 1951 3.2.5) and the token packing the encoder shares with its bit
 * writer. A token is one int32: a literal byte, or a match with (length - 3) in bits 22-29 and
 * (distance - 1) in bits 0-21, tagged by bit 30; packing them keeps the token buffer one Int32Array.
 */

export const MATCH_TYPE = 1 << 30
export const LENGTH_SHIFT = 22
export const OFFSET_MASK = (1 << LENGTH_SHIFT) - 1

export const END_BLOCK_MARKER = 256
export const LENGTH_CODES_START = 257
export const MAX_NUM_LIT = 286
export const OFFSET_CODE_COUNT = 30
export const CODEGEN_CODE_COUNT = 19
export const BAD_CODE = 255
export const MAX_STORE_BLOCK_SIZE = 65535

export const BASE_MATCH_LENGTH = 3
export const MIN_MATCH_LENGTH = 4
export const MAX_MATCH_LENGTH = 258
export const BASE_MATCH_OFFSET = 1
export const MAX_MATCH_OFFSET = 1 << 15

export function matchToken(xlength: number, xoffset: number): number {
  return MATCH_TYPE + (xlength << LENGTH_SHIFT) + xoffset
}

/** Length code (0-28) of every length - 3 (0-255). */
export const LENGTH_CODES = new Uint8Array(256)
/** Distance code of every distance - 1 below 256, and of (distance - 1) >> 7 above it. */
const OFFSET_CODES = new Uint8Array(256)

export const LENGTH_EXTRA_BITS = Uint8Array.of(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0)
export const LENGTH_BASE = Uint16Array.of(0, 1, 2, 3, 4, 5, 6, 7, 8, 10, 12, 14, 16, 20, 24, 28, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 255)
export const OFFSET_EXTRA_BITS = Uint8Array.of(0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13)
export const OFFSET_BASE = Int32Array.of(
  0x0000, 0x0001, 0x0002, 0x0003, 0x0004, 0x0006, 0x0008, 0x000c, 0x0010, 0x0018,
  0x0020, 0x0030, 0x0040, 0x0060, 0x0080, 0x00c0, 0x0100, 0x0180, 0x0200, 0x0300,
  0x0400, 0x0600, 0x0800, 0x0c00, 0x1000, 0x1800, 0x2000, 0x3000, 0x4000, 0x6000,
)
/** The order RFC 1951 sends code-length code lengths in. */
export const CODEGEN_ORDER = Uint8Array.of(16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15)

// Derived from the bases so that the tables cannot disagree with them.
for (let code = 0; code < 28; code++) {
  for (let l = LENGTH_BASE[code]!; l < LENGTH_BASE[code + 1]!; l++) LENGTH_CODES[l] = code
}
LENGTH_CODES[255] = 28
for (let code = 0; code < 16; code++) {
  const end = code === 15 ? 256 : OFFSET_BASE[code + 1]!
  for (let o = OFFSET_BASE[code]!; o < end; o++) OFFSET_CODES[o] = code
}

export function offsetCode(off: number): number {
  if (off < 256) return OFFSET_CODES[off]!
  if (off >> 7 < 256) return OFFSET_CODES[off >> 7]! + 14
  return OFFSET_CODES[off >> 14]! + 28
}
