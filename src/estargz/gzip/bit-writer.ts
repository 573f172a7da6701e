/**
 * DEFLATE blocks as bits: picks stored, fixed or dynamic Huffman encoding for a block of tokens
 * by the same size arithmetic as Go's huffmanBitWriter, so that the choice (and every bit) matches.
 * Output accumulates in one growable buffer that the owner drains with take().
 */
import { HuffmanEncoder, reverseBits } from './huffman-code.js'
import {
  BAD_CODE, CODEGEN_CODE_COUNT, CODEGEN_ORDER, END_BLOCK_MARKER, LENGTH_BASE, LENGTH_CODES,
  LENGTH_CODES_START, LENGTH_EXTRA_BITS, LENGTH_SHIFT, MATCH_TYPE, MAX_NUM_LIT, MAX_STORE_BLOCK_SIZE,
  OFFSET_BASE, OFFSET_CODE_COUNT, OFFSET_EXTRA_BITS, OFFSET_MASK, offsetCode,
} from './tables.js'

function fixedLiteralEncoding(): HuffmanEncoder {
  const h = new HuffmanEncoder(MAX_NUM_LIT)
  for (let ch = 0; ch < MAX_NUM_LIT; ch++) {
    let bits: number
    let size: number
    if (ch < 144) [bits, size] = [ch + 48, 8]
    else if (ch < 256) [bits, size] = [ch + 400 - 144, 9]
    else if (ch < 280) [bits, size] = [ch - 256, 7]
    else [bits, size] = [ch + 192 - 280, 8]
    h.code[ch] = reverseBits(bits, size)
    h.len[ch] = size
  }
  return h
}

function fixedOffsetEncoding(): HuffmanEncoder {
  const h = new HuffmanEncoder(OFFSET_CODE_COUNT)
  for (let ch = 0; ch < OFFSET_CODE_COUNT; ch++) {
    h.code[ch] = reverseBits(ch, 5)
    h.len[ch] = 5
  }
  return h
}

const FIXED_LITERALS = fixedLiteralEncoding()
const FIXED_OFFSETS = fixedOffsetEncoding()

/** Huffman-only blocks still declare one distance code; this is its (constant) code. */
const HUFF_OFFSET = (() => {
  const h = new HuffmanEncoder(OFFSET_CODE_COUNT)
  const freq = new Int32Array(OFFSET_CODE_COUNT)
  freq[0] = 1
  h.generate(freq, OFFSET_CODE_COUNT, 15)
  return h
})()

export class BitWriter {
  private buf = new Uint8Array(1 << 16)
  private pos = 0
  // Pending bits, LSB first; never more than 15 between calls, so 31 fit in a small integer.
  private bits = 0
  private nbits = 0

  private readonly literalFreq = new Int32Array(MAX_NUM_LIT)
  private readonly offsetFreq = new Int32Array(OFFSET_CODE_COUNT)
  private readonly codegenFreq = new Int32Array(CODEGEN_CODE_COUNT)
  private readonly codegen = new Uint8Array(MAX_NUM_LIT + OFFSET_CODE_COUNT + 1)
  private readonly literalEncoding = new HuffmanEncoder(MAX_NUM_LIT)
  private readonly offsetEncoding = new HuffmanEncoder(OFFSET_CODE_COUNT)
  private readonly codegenEncoding = new HuffmanEncoder(CODEGEN_CODE_COUNT)

  /** Bytes written so far and not yet taken. */
  get length(): number {
    return this.pos
  }

  /** Back to an empty stream, keeping the buffer. */
  reset(): void {
    this.pos = 0
    this.bits = 0
    this.nbits = 0
  }

  /** The finished bytes so far (a fresh copy); the buffer is reused. */
  take(): Uint8Array {
    const out = this.buf.slice(0, this.pos)
    this.pos = 0
    return out
  }

  private ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return
    const next = new Uint8Array(Math.max(this.buf.length * 2, this.pos + n))
    next.set(this.buf.subarray(0, this.pos))
    this.buf = next
  }

  /** Pad the pending bits to a byte boundary and emit them. */
  flush(): void {
    this.ensure(4)
    while (this.nbits > 0) {
      this.buf[this.pos++] = this.bits & 0xff
      this.bits >>>= 8
      this.nbits = this.nbits > 8 ? this.nbits - 8 : 0
    }
    this.bits = 0
  }

  /** At most 16 bits; the caller has ensured room. */
  private writeBits(b: number, nb: number): void {
    this.bits |= b << this.nbits
    this.nbits += nb
    if (this.nbits >= 16) {
      this.buf[this.pos++] = this.bits & 0xff
      this.buf[this.pos++] = (this.bits >>> 8) & 0xff
      this.bits >>>= 16
      this.nbits -= 16
    }
  }

  /** Whole bytes, after pending bits that end on a byte boundary. */
  writeBytes(src: Uint8Array, start: number, end: number): void {
    if ((this.nbits & 7) !== 0) throw new Error('deflate: writeBytes with unfinished bits')
    this.ensure(end - start + 4)
    while (this.nbits > 0) {
      this.buf[this.pos++] = this.bits & 0xff
      this.bits >>>= 8
      this.nbits -= 8
    }
    this.buf.set(src.subarray(start, end), this.pos)
    this.pos += end - start
  }

  writeStoredHeader(length: number, eof: boolean): void {
    this.ensure(8)
    this.writeBits(eof ? 1 : 0, 3)
    this.flush()
    this.writeBits(length, 16)
    this.writeBits(~length & 0xffff, 16)
  }

  private writeFixedHeader(eof: boolean): void {
    this.writeBits(eof ? 3 : 2, 3)
  }

  /** Run-length code the literal and offset code lengths (RFC 1951 3.2.7) into codegen. */
  private generateCodegen(numLiterals: number, numOffsets: number, litEnc: HuffmanEncoder, offEnc: HuffmanEncoder): void {
    const freq = this.codegenFreq
    freq.fill(0)
    const codegen = this.codegen
    codegen.set(litEnc.len.subarray(0, numLiterals), 0)
    codegen.set(offEnc.len.subarray(0, numOffsets), numLiterals)
    codegen[numLiterals + numOffsets] = BAD_CODE

    let size = codegen[0]!
    let count = 1
    let out = 0
    for (let inIndex = 1; size !== BAD_CODE; inIndex++) {
      const nextSize = codegen[inIndex]!
      if (nextSize === size) {
        count++
        continue
      }
      if (size !== 0) {
        codegen[out++] = size
        freq[size]!++
        count--
        while (count >= 3) {
          const n = count < 6 ? count : 6
          codegen[out++] = 16
          codegen[out++] = n - 3
          freq[16]!++
          count -= n
        }
      } else {
        while (count >= 11) {
          const n = count < 138 ? count : 138
          codegen[out++] = 18
          codegen[out++] = n - 11
          freq[18]!++
          count -= n
        }
        if (count >= 3) {
          codegen[out++] = 17
          codegen[out++] = count - 3
          freq[17]!++
          count = 0
        }
      }
      count--
      for (; count >= 0; count--) {
        codegen[out++] = size
        freq[size]!++
      }
      size = nextSize
      count = 1
    }
    codegen[out] = BAD_CODE
  }

  private numCodegens = 0

  /** Bits of a dynamic block with these codes; sets numCodegens. */
  private dynamicSize(litEnc: HuffmanEncoder, offEnc: HuffmanEncoder, extraBits: number): number {
    const freq = this.codegenFreq
    let numCodegens = CODEGEN_CODE_COUNT
    while (numCodegens > 4 && freq[CODEGEN_ORDER[numCodegens - 1]!] === 0) numCodegens--
    this.numCodegens = numCodegens
    const header = 3 + 5 + 5 + 4 + 3 * numCodegens +
      this.codegenEncoding.bitLength(freq) +
      freq[16]! * 2 + freq[17]! * 3 + freq[18]! * 7
    return header + litEnc.bitLength(this.literalFreq) + offEnc.bitLength(this.offsetFreq) + extraBits
  }

  private fixedSize(extraBits: number): number {
    return 3 + FIXED_LITERALS.bitLength(this.literalFreq) + FIXED_OFFSETS.bitLength(this.offsetFreq) + extraBits
  }

  private writeDynamicHeader(numLiterals: number, numOffsets: number, numCodegens: number, eof: boolean): void {
    this.ensure(400)
    this.writeBits(eof ? 5 : 4, 3)
    this.writeBits(numLiterals - 257, 5)
    this.writeBits(numOffsets - 1, 5)
    this.writeBits(numCodegens - 4, 4)
    const cg = this.codegenEncoding
    for (let i = 0; i < numCodegens; i++) this.writeBits(cg.len[CODEGEN_ORDER[i]!]!, 3)
    const codegen = this.codegen
    for (let i = 0; ;) {
      const word = codegen[i++]!
      if (word === BAD_CODE) break
      this.writeBits(cg.code[word]!, cg.len[word]!)
      if (word === 16) this.writeBits(codegen[i++]!, 2)
      else if (word === 17) this.writeBits(codegen[i++]!, 3)
      else if (word === 18) this.writeBits(codegen[i++]!, 7)
    }
  }

  /** Count symbol frequencies of tokens (plus the end marker) and build both codes from them. */
  private indexTokens(tokens: Int32Array, n: number): void {
    const lit = this.literalFreq
    const off = this.offsetFreq
    lit.fill(0)
    off.fill(0)
    for (let i = 0; i < n; i++) {
      const t = tokens[i]!
      if (t < MATCH_TYPE) {
        lit[t]!++
        continue
      }
      lit[LENGTH_CODES_START + LENGTH_CODES[(t - MATCH_TYPE) >>> LENGTH_SHIFT]!]!++
      off[offsetCode(t & OFFSET_MASK)]!++
    }
    lit[END_BLOCK_MARKER]!++
    let numLiterals = MAX_NUM_LIT
    while (lit[numLiterals - 1] === 0) numLiterals--
    let numOffsets = OFFSET_CODE_COUNT
    while (numOffsets > 0 && off[numOffsets - 1] === 0) numOffsets--
    if (numOffsets === 0) {
      // A dynamic block must still describe one distance code.
      off[0] = 1
      numOffsets = 1
    }
    this.literalEncoding.generate(lit, MAX_NUM_LIT, 15)
    this.offsetEncoding.generate(off, OFFSET_CODE_COUNT, 15)
    this.numLiterals = numLiterals
    this.numOffsets = numOffsets
  }

  private numLiterals = 0
  private numOffsets = 0

  /**
   * A block of tokens in its smallest encoding; `input` (window[start, end)) is the bytes the
   * tokens stand for, or null when they are not at hand, which rules out a stored block.
   */
  writeBlock(tokens: Int32Array, n: number, eof: boolean, input: Uint8Array | null, start: number, end: number): void {
    this.indexTokens(tokens, n)
    const numLiterals = this.numLiterals
    const numOffsets = this.numOffsets
    const storable = input !== null && end - start <= MAX_STORE_BLOCK_SIZE
    const storedSize = storable ? (end - start + 5) * 8 : 0
    let extraBits = 0
    if (storable) {
      for (let code = LENGTH_CODES_START + 8; code < numLiterals; code++) {
        extraBits += this.literalFreq[code]! * LENGTH_EXTRA_BITS[code - LENGTH_CODES_START]!
      }
      for (let code = 4; code < numOffsets; code++) extraBits += this.offsetFreq[code]! * OFFSET_EXTRA_BITS[code]!
    }
    let size = this.fixedSize(extraBits)
    let fixed = true
    this.generateCodegen(numLiterals, numOffsets, this.literalEncoding, this.offsetEncoding)
    this.codegenEncoding.generate(this.codegenFreq, CODEGEN_CODE_COUNT, 7)
    const dynamicSize = this.dynamicSize(this.literalEncoding, this.offsetEncoding, extraBits)
    if (dynamicSize < size) {
      size = dynamicSize
      fixed = false
    }
    if (storable && storedSize < size) {
      this.writeStoredHeader(end - start, eof)
      this.writeBytes(input, start, end)
      return
    }
    if (fixed) {
      this.ensure(1)
      this.writeFixedHeader(eof)
      this.writeTokens(tokens, n, FIXED_LITERALS, FIXED_OFFSETS)
    } else {
      this.writeDynamicHeader(numLiterals, numOffsets, this.numCodegens, eof)
      this.writeTokens(tokens, n, this.literalEncoding, this.offsetEncoding)
    }
  }

  /** A dynamic block, or a stored one when Huffman coding saves less than about 1/16. */
  writeBlockDynamic(tokens: Int32Array, n: number, eof: boolean, input: Uint8Array, start: number, end: number): void {
    this.indexTokens(tokens, n)
    this.generateCodegen(this.numLiterals, this.numOffsets, this.literalEncoding, this.offsetEncoding)
    this.codegenEncoding.generate(this.codegenFreq, CODEGEN_CODE_COUNT, 7)
    const size = this.dynamicSize(this.literalEncoding, this.offsetEncoding, 0)
    if (end - start <= MAX_STORE_BLOCK_SIZE && (end - start + 5) * 8 < size + (size >> 4)) {
      this.writeStoredHeader(end - start, eof)
      this.writeBytes(input, start, end)
      return
    }
    this.writeDynamicHeader(this.numLiterals, this.numOffsets, this.numCodegens, eof)
    this.writeTokens(tokens, n, this.literalEncoding, this.offsetEncoding)
  }

  /**
   * The tokens, then the end-of-block code. The 16-bit flush is written out at each of its four
   * places rather than called: this loop runs once per token, and keeping the bit buffer in
   * locals instead of fields and calls is what brought level 9 near Go's speed (see the commits).
   */
  private writeTokens(tokens: Int32Array, n: number, litEnc: HuffmanEncoder, offEnc: HuffmanEncoder): void {
    this.ensure(n * 6 + 8)
    const lcode = litEnc.code
    const llen = litEnc.len
    const ocode = offEnc.code
    const olen = offEnc.len
    const buf = this.buf
    let pos = this.pos
    let bits = this.bits
    let nbits = this.nbits
    for (let i = 0; i < n; i++) {
      const t = tokens[i]!
      if (t < MATCH_TYPE) {
        bits |= lcode[t]! << nbits
        nbits += llen[t]!
        if (nbits >= 16) {
          buf[pos++] = bits
          buf[pos++] = bits >>> 8
          bits >>>= 16
          nbits -= 16
        }
        continue
      }
      const length = (t - MATCH_TYPE) >>> LENGTH_SHIFT
      const lc = LENGTH_CODES[length]!
      const sym = lc + LENGTH_CODES_START
      bits |= lcode[sym]! << nbits
      nbits += llen[sym]!
      if (nbits >= 16) {
        buf[pos++] = bits
        buf[pos++] = bits >>> 8
        bits >>>= 16
        nbits -= 16
      }
      const lextra = LENGTH_EXTRA_BITS[lc]!
      if (lextra > 0) {
        bits |= (length - LENGTH_BASE[lc]!) << nbits
        nbits += lextra
        if (nbits >= 16) {
          buf[pos++] = bits
          buf[pos++] = bits >>> 8
          bits >>>= 16
          nbits -= 16
        }
      }
      const offset = t & OFFSET_MASK
      const oc = offsetCode(offset)
      bits |= ocode[oc]! << nbits
      nbits += olen[oc]!
      if (nbits >= 16) {
        buf[pos++] = bits
        buf[pos++] = bits >>> 8
        bits >>>= 16
        nbits -= 16
      }
      const oextra = OFFSET_EXTRA_BITS[oc]!
      if (oextra > 0) {
        bits |= (offset - OFFSET_BASE[oc]!) << nbits
        nbits += oextra
        if (nbits >= 16) {
          buf[pos++] = bits
          buf[pos++] = bits >>> 8
          bits >>>= 16
          nbits -= 16
        }
      }
    }
    this.pos = pos
    this.bits = bits
    this.nbits = nbits
    this.writeBits(lcode[END_BLOCK_MARKER]!, llen[END_BLOCK_MARKER]!)
  }

  /** input[start, end) as Huffman-coded literals only, or stored when that saves too little. */
  writeBlockHuff(eof: boolean, input: Uint8Array, start: number, end: number): void {
    const lit = this.literalFreq
    lit.fill(0)
    for (let i = start; i < end; i++) lit[input[i]!]!++
    lit[END_BLOCK_MARKER] = 1
    const numLiterals = END_BLOCK_MARKER + 1
    this.offsetFreq[0] = 1
    this.literalEncoding.generate(lit, MAX_NUM_LIT, 15)
    this.generateCodegen(numLiterals, 1, this.literalEncoding, HUFF_OFFSET)
    this.codegenEncoding.generate(this.codegenFreq, CODEGEN_CODE_COUNT, 7)
    const size = this.dynamicSize(this.literalEncoding, HUFF_OFFSET, 0)
    if (end - start <= MAX_STORE_BLOCK_SIZE && (end - start + 5) * 8 < size + (size >> 4)) {
      this.writeStoredHeader(end - start, eof)
      this.writeBytes(input, start, end)
      return
    }
    this.writeDynamicHeader(numLiterals, 1, this.numCodegens, eof)
    this.ensure(2 * (end - start) + 8)
    const code = this.literalEncoding.code
    const len = this.literalEncoding.len
    const buf = this.buf
    let pos = this.pos
    let bits = this.bits
    let nbits = this.nbits
    for (let i = start; i < end; i++) {
      const c = input[i]!
      bits |= code[c]! << nbits
      nbits += len[c]!
      if (nbits >= 16) {
        buf[pos++] = bits
        buf[pos++] = bits >>> 8
        bits >>>= 16
        nbits -= 16
      }
    }
    this.pos = pos
    this.bits = bits
    this.nbits = nbits
    this.writeBits(code[END_BLOCK_MARKER]!, len[END_BLOCK_MARKER]!)
  }
}
