/**
 * HPACK's static Huffman code (RFC 7541 Appendix B), kept as the bit length of each symbol: bytes
 * 0-255, then EOS (256). The code is canonical (codes are assigned in order of length, then symbol),
 * so the lengths alone determine every code. We only decode: our own header strings go out raw.
 */
const lengths = [
  13, 23, 28, 28, 28, 28, 28, 28, 28, 24, 30, 28, 28, 30, 28, 28, 28, 28, 28, 28, 28, 28, 30, 28, 28, 28, 28, 28, 28, 28, 28, 28,
  6, 10, 10, 12, 13, 6, 8, 11, 10, 10, 8, 11, 8, 6, 6, 6, 5, 5, 5, 6, 6, 6, 6, 6, 6, 6, 7, 8, 15, 6, 12, 10,
  13, 6, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 8, 7, 8, 13, 19, 13, 14, 6,
  15, 5, 6, 5, 6, 5, 6, 6, 6, 5, 7, 7, 6, 6, 6, 5, 6, 7, 6, 5, 5, 6, 7, 7, 7, 7, 7, 15, 11, 14, 13, 28,
  20, 22, 20, 20, 22, 22, 22, 23, 22, 23, 23, 23, 23, 23, 24, 23, 24, 24, 22, 23, 24, 23, 23, 23, 23, 21, 22, 23, 22, 23, 23, 24,
  22, 21, 20, 22, 22, 23, 23, 21, 23, 22, 22, 24, 21, 22, 23, 23, 21, 21, 22, 21, 23, 22, 23, 23, 20, 22, 22, 22, 23, 22, 22, 23,
  26, 26, 20, 19, 22, 23, 22, 25, 26, 26, 26, 27, 27, 26, 24, 25, 19, 21, 26, 27, 27, 26, 27, 24, 21, 21, 26, 26, 28, 27, 27, 27,
  20, 24, 20, 21, 22, 21, 21, 23, 22, 22, 25, 25, 24, 24, 26, 23, 26, 27, 26, 26, 27, 27, 27, 27, 27, 28, 27, 27, 27, 27, 27, 26,
  30,
]

const eos = 256
const maxLength = 30

/** Canonical decoding tables: symbols by (length, symbol); per length, its first code and where its symbols start. */
const bySymbolOrder: number[] = [...lengths.keys()].sort((a, b) => (lengths[a] as number) - (lengths[b] as number) || a - b)
const count = new Array<number>(maxLength + 2).fill(0)
for (const l of lengths) count[l] = (count[l] as number) + 1
const firstCode = new Array<number>(maxLength + 2).fill(0)
const firstIndex = new Array<number>(maxLength + 2).fill(0)
for (let l = 1; l <= maxLength; l++) {
  firstCode[l] = ((firstCode[l - 1] as number) + (count[l - 1] as number)) * 2
  firstIndex[l] = (firstIndex[l - 1] as number) + (count[l - 1] as number)
}

export class HuffmanError extends Error {}

/** Decode a Huffman-coded HPACK string (as latin1, as header octets are). */
export function huffmanDecode(bytes: Uint8Array): string {
  let out = ''
  let code = 0
  let length = 0
  for (const byte of bytes) {
    for (let bit = 7; bit >= 0; bit--) {
      code = code * 2 + ((byte >> bit) & 1)
      length++
      const at = code - (firstCode[length] as number)
      if (at >= 0 && at < (count[length] as number)) {
        const symbol = bySymbolOrder[(firstIndex[length] as number) + at] as number
        if (symbol === eos) throw new HuffmanError('a Huffman-coded string contains EOS')
        out += String.fromCharCode(symbol)
        code = 0
        length = 0
      } else if (length >= maxLength) {
        throw new HuffmanError('a Huffman-coded string holds an invalid code')
      }
    }
  }
  // What is left must be padding: fewer than 8 bits, all ones (the start of EOS).
  if (length > 7 || code !== 2 ** length - 1) throw new HuffmanError('a Huffman-coded string ends in invalid padding')
  return out
}
