/**
 * Raw DEFLATE, byte for byte what Go's compress/flate Writer produces at the same level: store
 * (0), Huffman only (-2), BestSpeed (1, see deflate-fast.ts) and hash-chain matching (2-9, lazy
 * from level 4). The output does not depend on how the input is split across write() calls: work
 * only advances while a full match's lookahead is buffered, as in Go.
 */
import { BitWriter } from './bit-writer.js'
import { DeflateFast } from './deflate-fast.js'
import { GzipLevelError } from './errors.js'
import {
  BASE_MATCH_LENGTH, BASE_MATCH_OFFSET, MAX_MATCH_LENGTH, MAX_STORE_BLOCK_SIZE, MIN_MATCH_LENGTH, matchToken,
} from './tables.js'

export const NO_COMPRESSION = 0
export const BEST_SPEED = 1
export const BEST_COMPRESSION = 9
export const DEFAULT_COMPRESSION = -1
export const HUFFMAN_ONLY = -2

const WINDOW_SIZE = 1 << 15
const WINDOW_MASK = WINDOW_SIZE - 1
const MAX_FLATE_BLOCK_TOKENS = 1 << 14
const HASH_BITS = 17
const HASH_SIZE = 1 << HASH_BITS
const MAX_HASH_OFFSET = 1 << 24
const SKIP_NEVER = 0x7fffffff
const HASH_SHIFT = 32 - HASH_BITS

/** [good, lazy, nice, chain, fastSkipHashing] for levels 2-9 (Go's levels table). */
const LEVELS: ReadonlyArray<readonly [number, number, number, number, number]> = [
  [0, 0, 0, 0, 0],
  [0, 0, 0, 0, 0],
  [4, 0, 16, 8, 5],
  [4, 0, 32, 32, 6],
  [4, 4, 16, 16, SKIP_NEVER],
  [8, 16, 32, 32, SKIP_NEVER],
  [8, 16, 128, 128, SKIP_NEVER],
  [8, 32, 128, 256, SKIP_NEVER],
  [32, 128, 258, 1024, SKIP_NEVER],
  [32, 258, 258, 4096, SKIP_NEVER],
]

const enum Mode { Store, Huffman, Fast, Chain }

export class Deflater {
  readonly level: number
  private readonly mode: Mode
  readonly out = new BitWriter()
  private readonly window: Uint8Array
  private readonly view: DataView
  private windowEnd = 0
  private sync = false
  private closed = false

  // Hash-chain state (levels 2-9).
  private readonly good: number
  private readonly lazy: number
  private readonly nice: number
  private readonly chain: number
  private readonly fastSkipHashing: number
  private readonly hashHead: Int32Array
  private readonly hashPrev: Int32Array
  private hashOffset = 1
  private index = 0
  private blockStart = 0
  private byteAvailable = false
  private length = MIN_MATCH_LENGTH - 1
  private offset = 0
  private chainHead = -1
  private readonly tokens: Int32Array
  private ntokens = 0
  // findMatch's answer, kept here rather than in a fresh object per call.
  private matchLength = 0
  private matchOffset = 0

  private readonly fast: DeflateFast | undefined

  constructor(level: number) {
    if (!Number.isInteger(level) || level < HUFFMAN_ONLY || level > BEST_COMPRESSION) throw new GzipLevelError(level)
    this.level = level === DEFAULT_COMPRESSION ? 6 : level
    const [good, lazy, nice, chain, skip] = LEVELS[Math.max(this.level, 0)]!
    this.good = good
    this.lazy = lazy
    this.nice = nice
    this.chain = chain
    this.fastSkipHashing = skip
    if (this.level === NO_COMPRESSION || this.level === HUFFMAN_ONLY || this.level === BEST_SPEED) {
      this.mode = this.level === NO_COMPRESSION ? Mode.Store : this.level === HUFFMAN_ONLY ? Mode.Huffman : Mode.Fast
      this.window = new Uint8Array(MAX_STORE_BLOCK_SIZE)
      this.view = new DataView(this.window.buffer)
      this.hashHead = new Int32Array(0)
      this.hashPrev = new Int32Array(0)
      this.tokens = new Int32Array(this.mode === Mode.Fast ? MAX_STORE_BLOCK_SIZE : 0)
      this.fast = this.mode === Mode.Fast ? new DeflateFast() : undefined
    } else {
      this.mode = Mode.Chain
      this.window = new Uint8Array(2 * WINDOW_SIZE)
      this.view = new DataView(this.window.buffer)
      this.hashHead = new Int32Array(HASH_SIZE)
      this.hashPrev = new Int32Array(WINDOW_SIZE)
      this.tokens = new Int32Array(MAX_FLATE_BLOCK_TOKENS + 1)
      this.fast = undefined
    }
  }

  /**
   * Start a new stream at the same level, as a new Deflater would (Go's Writer.Reset): the large
   * tables are cleared in place rather than allocated again for every gzip member. Old window
   * bytes may stay: nothing reaches them once the hash chains are empty.
   */
  reset(): void {
    this.out.reset()
    this.windowEnd = 0
    this.sync = false
    this.closed = false
    this.hashHead.fill(0)
    this.hashPrev.fill(0)
    this.hashOffset = 1
    this.index = 0
    this.blockStart = 0
    this.byteAvailable = false
    this.length = MIN_MATCH_LENGTH - 1
    this.offset = 0
    this.chainHead = -1
    this.ntokens = 0
    this.fast?.clear()
  }

  write(b: Uint8Array): void {
    let p = 0
    while (p < b.length) {
      this.step()
      p += this.fill(b, p)
    }
  }

  /**
   * Compress everything buffered and byte-align the output with an empty stored block (zlib's
   * Z_SYNC_FLUSH). Go's estargz writer flushes each member before closing it, marker included.
   */
  flush(): void {
    if (this.closed) return
    this.sync = true
    this.step()
    this.out.writeStoredHeader(0, false)
    this.out.flush()
    this.sync = false
  }

  /** Compress what is buffered and end the stream with a final empty stored block. */
  close(): void {
    if (this.closed) return
    this.closed = true
    this.sync = true
    this.step()
    this.out.writeStoredHeader(0, true)
    this.out.flush()
  }

  private step(): void {
    switch (this.mode) {
      case Mode.Store: return this.store()
      case Mode.Huffman: return this.storeHuff()
      case Mode.Fast: return this.encSpeed()
      case Mode.Chain: return this.deflate()
    }
  }

  private fill(b: Uint8Array, p: number): number {
    if (this.mode === Mode.Chain) this.maybeShift()
    const n = Math.min(this.window.length - this.windowEnd, b.length - p)
    this.window.set(b.subarray(p, p + n), this.windowEnd)
    this.windowEnd += n
    return n
  }

  /** Slide the window down by 32 KiB once the lookahead nears its end, rebasing the hash chains rarely. */
  private maybeShift(): void {
    if (this.index < 2 * WINDOW_SIZE - (MIN_MATCH_LENGTH + MAX_MATCH_LENGTH)) return
    this.window.copyWithin(0, WINDOW_SIZE, 2 * WINDOW_SIZE)
    this.index -= WINDOW_SIZE
    this.windowEnd -= WINDOW_SIZE
    this.blockStart = this.blockStart >= WINDOW_SIZE ? this.blockStart - WINDOW_SIZE : 0x7fffffff
    this.hashOffset += WINDOW_SIZE
    if (this.hashOffset > MAX_HASH_OFFSET) {
      const delta = this.hashOffset - 1
      this.hashOffset -= delta
      this.chainHead -= delta
      const prev = this.hashPrev
      for (let i = 0; i < prev.length; i++) {
        const v = prev[i]!
        prev[i] = v > delta ? v - delta : 0
      }
      const head = this.hashHead
      for (let i = 0; i < head.length; i++) {
        const v = head[i]!
        head[i] = v > delta ? v - delta : 0
      }
    }
  }

  private store(): void {
    if (this.windowEnd > 0 && (this.windowEnd === MAX_STORE_BLOCK_SIZE || this.sync)) {
      this.out.writeStoredHeader(this.windowEnd, false)
      this.out.writeBytes(this.window, 0, this.windowEnd)
      this.windowEnd = 0
    }
  }

  private storeHuff(): void {
    if ((this.windowEnd < this.window.length && !this.sync) || this.windowEnd === 0) return
    this.out.writeBlockHuff(false, this.window, 0, this.windowEnd)
    this.windowEnd = 0
  }

  private encSpeed(): void {
    const fast = this.fast!
    const end = this.windowEnd
    if (end < MAX_STORE_BLOCK_SIZE) {
      if (!this.sync) return
      if (end < 128) {
        if (end === 0) return
        if (end <= 16) {
          this.out.writeStoredHeader(end, false)
          this.out.writeBytes(this.window, 0, end)
        } else {
          this.out.writeBlockHuff(false, this.window, 0, end)
        }
        this.windowEnd = 0
        fast.reset()
        return
      }
    }
    const n = fast.encode(this.tokens, this.window, end)
    // Matching removed less than 1/16 of the bytes: Huffman-code the literals instead.
    if (n > end - (end >> 4)) this.out.writeBlockHuff(false, this.window, 0, end)
    else this.out.writeBlockDynamic(this.tokens, n, false, this.window, 0, end)
    this.windowEnd = 0
  }

  private writeBlock(index: number): void {
    if (index > 0) {
      const hasWindow = this.blockStart <= index
      this.out.writeBlock(this.tokens, this.ntokens, false, hasWindow ? this.window : null, hasWindow ? this.blockStart : 0, index)
      this.blockStart = index
    }
    this.ntokens = 0
  }

  /** Longest match at pos longer than prevLength among chain candidates from prevHead; false if none. */
  private findMatch(pos: number, prevHead: number, prevLength: number, lookahead: number): boolean {
    const win = this.window
    const minMatchLook = lookahead < MAX_MATCH_LENGTH ? lookahead : MAX_MATCH_LENGTH
    const winLen = pos + minMatchLook
    let nice = winLen - pos
    if (this.nice < nice) nice = this.nice
    const view = this.view
    let tries = this.chain
    let length = prevLength
    if (length >= this.good) tries >>= 2
    // The two bytes ending the best match so far: a candidate must agree there to beat it.
    let wEnd = view.getUint16(pos + length - 1)
    const minIndex = pos - WINDOW_SIZE
    const hashPrev = this.hashPrev
    const hashOffset = this.hashOffset
    let ok = false
    let offset = 0
    // Beating a match of 3 or more takes at least 4 equal bytes, so the first four must agree too.
    const first = view.getInt32(pos)
    for (let i = prevHead; tries > 0; tries--) {
      // Only a candidate agreeing at both ends of the best match so far can beat it: check those first.
      if (wEnd === view.getUint16(i + length - 1) && first === view.getInt32(i)) {
        let n = 4
        while (n + 4 <= minMatchLook && view.getInt32(i + n) === view.getInt32(pos + n)) n += 4
        while (n < minMatchLook && win[i + n] === win[pos + n]) n++
        if (n > length && (n > MIN_MATCH_LENGTH || pos - i <= 4096)) {
          length = n
          offset = pos - i
          ok = true
          if (n >= nice) break
          wEnd = view.getUint16(pos + n - 1)
        }
      }
      if (i === minIndex) break
      i = hashPrev[i & WINDOW_MASK]! - hashOffset
      if (i < minIndex || i < 0) break
    }
    this.matchLength = length
    this.matchOffset = offset
    return ok
  }

  private deflate(): void {
    const windowEnd = this.windowEnd
    const sync = this.sync
    if (windowEnd - this.index < MIN_MATCH_LENGTH + MAX_MATCH_LENGTH && !sync) return
    const maxInsertIndex = windowEnd - (MIN_MATCH_LENGTH - 1)
    const window = this.window
    const hashHead = this.hashHead
    const hashPrev = this.hashPrev
    const hashOffset = this.hashOffset
    const tokens = this.tokens
    const lazy = this.lazy
    const fastSkipHashing = this.fastSkipHashing
    const skipNever = fastSkipHashing === SKIP_NEVER
    // The hot state lives in locals and goes back to the fields whenever a block is written and on return.
    let index = this.index
    let length = this.length
    let offset = this.offset
    let chainHead = this.chainHead
    let byteAvailable = this.byteAvailable
    let ntokens = this.ntokens
    for (;;) {
      const lookahead = windowEnd - index
      if (lookahead < MIN_MATCH_LENGTH + MAX_MATCH_LENGTH) {
        if (!sync) break
        if (lookahead === 0) {
          if (byteAvailable) {
            tokens[ntokens++] = window[index - 1]!
            byteAvailable = false
          }
          if (ntokens > 0) {
            this.ntokens = ntokens
            this.writeBlock(index)
            ntokens = 0
          }
          break
        }
      }
      if (index < maxInsertIndex) {
        const h = Math.imul(window[index + 3]! | (window[index + 2]! << 8) | (window[index + 1]! << 16) | (window[index]! << 24), 0x1e35a7bd) >>> HASH_SHIFT
        chainHead = hashHead[h]!
        hashPrev[index & WINDOW_MASK] = chainHead
        hashHead[h] = index + hashOffset
      }
      const prevLength = length
      const prevOffset = offset
      length = MIN_MATCH_LENGTH - 1
      offset = 0
      const minIndex = index - WINDOW_SIZE > 0 ? index - WINDOW_SIZE : 0

      if (chainHead - hashOffset >= minIndex &&
        ((!skipNever && lookahead > MIN_MATCH_LENGTH - 1) ||
          (skipNever && lookahead > prevLength && prevLength < lazy))) {
        if (this.findMatch(index, chainHead - hashOffset, MIN_MATCH_LENGTH - 1, lookahead)) {
          length = this.matchLength
          offset = this.matchOffset
        }
      }
      if ((!skipNever && length >= MIN_MATCH_LENGTH) ||
        (skipNever && prevLength >= MIN_MATCH_LENGTH && length <= prevLength)) {
        // Emit the match: the current one (greedy levels) or the previous one it did not beat (lazy).
        tokens[ntokens++] = skipNever
          ? matchToken(prevLength - BASE_MATCH_LENGTH, prevOffset - BASE_MATCH_OFFSET)
          : matchToken(length - BASE_MATCH_LENGTH, offset - BASE_MATCH_OFFSET)
        if (length <= fastSkipHashing) {
          const newIndex = skipNever ? index + prevLength - 1 : index + length
          for (index++; index < newIndex; index++) {
            if (index < maxInsertIndex) {
              const h = Math.imul(window[index + 3]! | (window[index + 2]! << 8) | (window[index + 1]! << 16) | (window[index]! << 24), 0x1e35a7bd) >>> HASH_SHIFT
              hashPrev[index & WINDOW_MASK] = hashHead[h]!
              hashHead[h] = index + hashOffset
            }
          }
          if (skipNever) {
            byteAvailable = false
            length = MIN_MATCH_LENGTH - 1
          }
        } else {
          // Long greedy matches skip hashing their interior.
          index += length
        }
        if (ntokens === MAX_FLATE_BLOCK_TOKENS) {
          this.ntokens = ntokens
          this.writeBlock(index)
          ntokens = 0
        }
      } else {
        if (!skipNever || byteAvailable) {
          const i = skipNever ? index - 1 : index
          tokens[ntokens++] = window[i]!
          if (ntokens === MAX_FLATE_BLOCK_TOKENS) {
            this.ntokens = ntokens
            this.writeBlock(i + 1)
            ntokens = 0
          }
        }
        index++
        if (skipNever) byteAvailable = true
      }
    }
    this.index = index
    this.length = length
    this.offset = offset
    this.chainHead = chainHead
    this.byteAvailable = byteAvailable
    this.ntokens = ntokens
  }
}
