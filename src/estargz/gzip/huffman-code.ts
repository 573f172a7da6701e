/**
 * Length-limited canonical Huffman codes, built exactly as Go's compress/flate builds them
 * (package-merge over the leaves sorted by frequency, codes handed out in literal order), since
 * any other optimal code of the same lengths would still change the output bytes.
 */

const MAX_BITS_LIMIT = 16
const MAX_INT32 = 0x7fffffff

/** Codes (bit-reversed, ready to write LSB first) and lengths for up to `size` symbols. */
export class HuffmanEncoder {
  readonly code: Uint16Array
  readonly len: Uint8Array
  // Node = freq * 512 + literal: one sortable number for "by frequency, then literal".
  private readonly nodes = new Float64Array(287)
  private readonly chunk = new Uint16Array(287)
  private readonly bitCount = new Int32Array(17)
  private readonly leafCounts = new Int32Array(MAX_BITS_LIMIT * MAX_BITS_LIMIT)
  private readonly lastFreq = new Float64Array(MAX_BITS_LIMIT)
  private readonly nextCharFreq = new Float64Array(MAX_BITS_LIMIT)
  private readonly nextPairFreq = new Float64Array(MAX_BITS_LIMIT)
  private readonly needed = new Int32Array(MAX_BITS_LIMIT)

  constructor(readonly size: number) {
    this.code = new Uint16Array(size)
    this.len = new Uint8Array(size)
  }

  /** Sum of freq[i] * len[i]: the bits the symbols would take in this code. */
  bitLength(freq: Int32Array, n: number = freq.length): number {
    const len = this.len
    let total = 0
    for (let i = 0; i < n; i++) {
      const f = freq[i]!
      if (f !== 0) total += f * len[i]!
    }
    return total
  }

  /** Make this the minimal code, at most maxBits long, for freq[0..n). */
  generate(freq: Int32Array, n: number, maxBits: number): void {
    const nodes = this.nodes
    const len = this.len
    let count = 0
    for (let i = 0; i < n; i++) {
      const f = freq[i]!
      if (f !== 0) nodes[count++] = f * 512 + i
      else len[i] = 0
    }
    if (count <= 2) {
      // One or two symbols: each takes one bit, in literal order.
      for (let i = 0; i < count; i++) {
        const lit = nodes[i]! % 512
        this.code[lit] = i
        len[lit] = 1
      }
      return
    }
    nodes.subarray(0, count).sort()
    this.bitCounts(count, maxBits)
    this.assign(count)
  }

  private freqAt(i: number, n: number): number {
    return i >= n ? MAX_INT32 : Math.floor(this.nodes[i]! / 512)
  }

  /** Package-merge: how many leaves get each bit length (Go's bitCounts). */
  private bitCounts(n: number, maxBitsIn: number): void {
    let maxBits = maxBitsIn
    if (maxBits > n - 1) maxBits = n - 1
    const lastFreq = this.lastFreq
    const nextCharFreq = this.nextCharFreq
    const nextPairFreq = this.nextPairFreq
    const needed = this.needed
    const leaf = this.leafCounts
    leaf.fill(0)
    needed.fill(0)
    nextPairFreq.fill(0)
    const f0 = this.freqAt(0, n)
    const f1 = this.freqAt(1, n)
    const f2 = this.freqAt(2, n)
    for (let level = 1; level <= maxBits; level++) {
      lastFreq[level] = f1
      nextCharFreq[level] = f2
      nextPairFreq[level] = level === 1 ? MAX_INT32 : f0 + f1
      leaf[level * MAX_BITS_LIMIT + level] = 2
    }
    needed[maxBits] = 2 * n - 4

    let level = maxBits
    for (;;) {
      if (nextPairFreq[level] === MAX_INT32 && nextCharFreq[level] === MAX_INT32) {
        // Out of leaves and pairs: this level is done, and so is every level below it.
        needed[level] = 0
        nextPairFreq[level + 1] = MAX_INT32
        level++
        continue
      }
      const prevFreq = lastFreq[level]!
      if (nextCharFreq[level]! < nextPairFreq[level]!) {
        const c = leaf[level * MAX_BITS_LIMIT + level]! + 1
        lastFreq[level] = nextCharFreq[level]!
        leaf[level * MAX_BITS_LIMIT + level] = c
        nextCharFreq[level] = this.freqAt(c, n)
      } else {
        lastFreq[level] = nextPairFreq[level]!
        leaf.copyWithin(level * MAX_BITS_LIMIT, (level - 1) * MAX_BITS_LIMIT, (level - 1) * MAX_BITS_LIMIT + level)
        needed[level - 1] = 2
      }
      needed[level] = needed[level]! - 1
      if (needed[level] === 0) {
        if (level === maxBits) break
        nextPairFreq[level + 1] = prevFreq + lastFreq[level]!
        level++
      } else {
        while (needed[level - 1]! > 0) level--
      }
    }
    if (leaf[maxBits * MAX_BITS_LIMIT + maxBits] !== n) throw new Error('huffman: leaf counts do not add up')

    const bitCount = this.bitCount
    bitCount.fill(0)
    let bits = 1
    const row = maxBits * MAX_BITS_LIMIT
    for (let lv = maxBits; lv > 0; lv--) {
      bitCount[bits] = leaf[row + lv]! - leaf[row + lv - 1]!
      bits++
    }
    this.maxBitsUsed = maxBits
  }

  private maxBitsUsed = 0

  /** Canonical codes: the least frequent leaves take the longest codes, in literal order per length. */
  private assign(count: number): void {
    const bitCount = this.bitCount
    const nodes = this.nodes
    const chunk = this.chunk
    let end = count
    let code = 0
    for (let n = 0; n <= this.maxBitsUsed; n++) {
      code <<= 1
      const bits = bitCount[n]!
      if (n === 0 || bits === 0) continue
      const start = end - bits
      for (let i = start; i < end; i++) chunk[i - start] = nodes[i]! % 512
      const lits = chunk.subarray(0, bits).sort()
      for (let i = 0; i < bits; i++) {
        const lit = lits[i]!
        this.code[lit] = reverseBits(code, n)
        this.len[lit] = n
        code++
      }
      end = start
    }
  }
}

export function reverseBits(v: number, n: number): number {
  let r = 0
  for (let i = 0; i < n; i++) {
    r = (r << 1) | ((v >> i) & 1)
  }
  return r
}
