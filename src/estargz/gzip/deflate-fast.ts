/**
 * Level 1 (BestSpeed): Go's Snappy-style single-probe matcher over 64 KiB blocks, with matches
 * reaching back into the previous block. Table entries hold the four bytes at a position and that
 * position plus a running base (`cur`), so a stale entry fails the distance check instead of
 * needing the table cleared between blocks.
 */
import { BASE_MATCH_LENGTH, BASE_MATCH_OFFSET, MAX_MATCH_LENGTH, MAX_MATCH_OFFSET, MAX_STORE_BLOCK_SIZE, matchToken } from './tables.js'

const TABLE_BITS = 14
const TABLE_SIZE = 1 << TABLE_BITS
const TABLE_MASK = TABLE_SIZE - 1
const TABLE_SHIFT = 32 - TABLE_BITS
const BUFFER_RESET = 0x7fffffff - MAX_STORE_BLOCK_SIZE * 2
const INPUT_MARGIN = 16 - 1
const MIN_NON_LITERAL_BLOCK_SIZE = 1 + 1 + INPUT_MARGIN

function load32(b: Uint8Array, i: number): number {
  return b[i]! | (b[i + 1]! << 8) | (b[i + 2]! << 16) | (b[i + 3]! << 24)
}

function hash(u: number): number {
  return Math.imul(u, 0x1e35a7bd) >>> TABLE_SHIFT
}

export class DeflateFast {
  private readonly tableVal = new Int32Array(TABLE_SIZE)
  private readonly tableOff = new Int32Array(TABLE_SIZE)
  private readonly prev = new Uint8Array(MAX_STORE_BLOCK_SIZE)
  private prevLen = 0
  private cur = MAX_STORE_BLOCK_SIZE

  /** Tokens for src[0, n) into dst from index 0; returns how many. */
  encode(dst: Int32Array, src: Uint8Array, n: number): number {
    if (this.cur >= BUFFER_RESET) this.shiftOffsets()
    let d = 0
    if (n < MIN_NON_LITERAL_BLOCK_SIZE) {
      this.cur += MAX_STORE_BLOCK_SIZE
      this.prevLen = 0
      for (let i = 0; i < n; i++) dst[d++] = src[i]!
      return d
    }
    const tableVal = this.tableVal
    const tableOff = this.tableOff
    const sLimit = n - INPUT_MARGIN
    let nextEmit = 0
    let s = 0
    let cv = load32(src, s)
    let nextHash = hash(cv)
    const cur = this.cur

    outer: for (;;) {
      let skip = 32
      let nextS = s
      let candVal = 0
      let candOff = 0
      for (;;) {
        s = nextS
        const step = skip >> 5
        nextS = s + step
        skip += step
        if (nextS > sLimit) break outer
        const h = nextHash & TABLE_MASK
        candVal = tableVal[h]!
        candOff = tableOff[h]!
        const now = load32(src, nextS)
        tableVal[h] = cv
        tableOff[h] = s + cur
        nextHash = hash(now)
        const offset = s - (candOff - cur)
        if (offset > MAX_MATCH_OFFSET || cv !== candVal) {
          cv = now
          continue
        }
        break
      }
      while (nextEmit < s) dst[d++] = src[nextEmit++]!

      for (;;) {
        s += 4
        const t = candOff - cur + 4
        const l = this.matchLen(s, t, src, n)
        dst[d++] = matchToken(l + 4 - BASE_MATCH_LENGTH, s - t - BASE_MATCH_OFFSET)
        s += l
        nextEmit = s
        if (s >= sLimit) break outer
        // Index s-1 and s (the bytes after the match) before probing at s.
        const x0 = load32(src, s - 1)
        const prevHash = hash(x0) & TABLE_MASK
        tableVal[prevHash] = x0
        tableOff[prevHash] = cur + s - 1
        const x1 = load32(src, s)
        const currHash = hash(x1) & TABLE_MASK
        candVal = tableVal[currHash]!
        candOff = tableOff[currHash]!
        tableVal[currHash] = x1
        tableOff[currHash] = cur + s
        const offset = s - (candOff - cur)
        if (offset > MAX_MATCH_OFFSET || x1 !== candVal) {
          cv = load32(src, s + 1)
          nextHash = hash(cv)
          s++
          break
        }
      }
    }
    while (nextEmit < n) dst[d++] = src[nextEmit++]!
    this.cur += n
    this.prev.set(src.subarray(0, n))
    this.prevLen = n
    return d
  }

  /** Length of the match between src[s..] and src[t..], where t < 0 reaches into the previous block. */
  private matchLen(s: number, t: number, src: Uint8Array, n: number): number {
    let s1 = s + MAX_MATCH_LENGTH - 4
    if (s1 > n) s1 = n
    if (t >= 0) {
      const len = s1 - s
      for (let i = 0; i < len; i++) if (src[s + i] !== src[t + i]) return i
      return len
    }
    const tp = this.prevLen + t
    if (tp < 0) return 0
    const prev = this.prev
    let len = s1 - s
    if (this.prevLen - tp < len) len = this.prevLen - tp
    for (let i = 0; i < len; i++) if (src[s + i] !== prev[tp + i]) return i
    if (s + len === s1) return len
    const rest = s1 - s - len
    const base = s + len
    for (let i = 0; i < rest; i++) if (src[base + i] !== src[i]) return i + len
    return rest + len
  }

  /** As new: an empty table and the starting base. */
  clear(): void {
    this.tableVal.fill(0)
    this.tableOff.fill(0)
    this.prevLen = 0
    this.cur = MAX_STORE_BLOCK_SIZE
  }

  /** Forget history: every table entry becomes too far away to match. */
  reset(): void {
    this.prevLen = 0
    this.cur += MAX_MATCH_OFFSET
    if (this.cur >= BUFFER_RESET) this.shiftOffsets()
  }

  private shiftOffsets(): void {
    if (this.prevLen === 0) {
      this.tableVal.fill(0)
      this.tableOff.fill(0)
      this.cur = MAX_MATCH_OFFSET + 1
      return
    }
    const off = this.tableOff
    for (let i = 0; i < TABLE_SIZE; i++) {
      const v = off[i]! - this.cur + MAX_MATCH_OFFSET + 1
      off[i] = v < 0 ? 0 : v
    }
    this.cur = MAX_MATCH_OFFSET + 1
  }
}
