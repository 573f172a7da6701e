import { huffmanDecode } from './huffman.js'

/** A header block's fields, in order; names are lowercase, as HTTP/2 requires. */
export type HeaderList = Array<[name: string, value: string]>

/** HPACK's static table (RFC 7541 Appendix A): index 1 is the first entry. */
const staticTable: HeaderList = [
  [":authority", ""],
  [":method", "GET"],
  [":method", "POST"],
  [":path", "/"],
  [":path", "/index.html"],
  [":scheme", "http"],
  [":scheme", "https"],
  [":status", "200"],
  [":status", "204"],
  [":status", "206"],
  [":status", "304"],
  [":status", "400"],
  [":status", "404"],
  [":status", "500"],
  ["accept-charset", ""],
  ["accept-encoding", "gzip, deflate"],
  ["accept-language", ""],
  ["accept-ranges", ""],
  ["accept", ""],
  ["access-control-allow-origin", ""],
  ["age", ""],
  ["allow", ""],
  ["authorization", ""],
  ["cache-control", ""],
  ["content-disposition", ""],
  ["content-encoding", ""],
  ["content-language", ""],
  ["content-length", ""],
  ["content-location", ""],
  ["content-range", ""],
  ["content-type", ""],
  ["cookie", ""],
  ["date", ""],
  ["etag", ""],
  ["expect", ""],
  ["expires", ""],
  ["from", ""],
  ["host", ""],
  ["if-match", ""],
  ["if-modified-since", ""],
  ["if-none-match", ""],
  ["if-range", ""],
  ["if-unmodified-since", ""],
  ["last-modified", ""],
  ["link", ""],
  ["location", ""],
  ["max-forwards", ""],
  ["proxy-authenticate", ""],
  ["proxy-authorization", ""],
  ["range", ""],
  ["referer", ""],
  ["refresh", ""],
  ["retry-after", ""],
  ["server", ""],
  ["set-cookie", ""],
  ["strict-transport-security", ""],
  ["transfer-encoding", ""],
  ["user-agent", ""],
  ["vary", ""],
  ["via", ""],
  ["www-authenticate", ""],
]

const staticNameIndex = new Map<string, number>()
const staticPairIndex = new Map<string, number>()
staticTable.forEach(([name, value], i) => {
  if (!staticNameIndex.has(name)) staticNameIndex.set(name, i + 1)
  staticPairIndex.set(`${name}\0${value}`, i + 1)
})

export class HpackError extends Error {}

/** The octets of an integer with an N-bit prefix (RFC 7541 5.1), the prefix's other bits given in `first`. */
function integer(value: number, prefixBits: number, first: number, out: number[]): void {
  const max = (1 << prefixBits) - 1
  if (value < max) { out.push(first | value); return }
  out.push(first | max)
  let rest = value - max
  while (rest >= 128) { out.push((rest % 128) + 128); rest = Math.floor(rest / 128) }
  out.push(rest)
}

function rawString(text: string, out: number[]): void {
  integer(text.length, 7, 0, out)
  for (let i = 0; i < text.length; i++) out.push(text.charCodeAt(i) & 0xff)
}

/**
 * A header block for our requests: a static-table entry when name and value match one, else a
 * literal that is never added to the peer's dynamic table, its name indexed when the static table
 * has it. Strings go raw (no Huffman): our headers are few and short.
 */
export function encodeHeaders(headers: ReadonlyArray<readonly [name: string, value: string]>): Buffer {
  const out: number[] = []
  for (const [name, value] of headers) {
    const pair = staticPairIndex.get(`${name}\0${value}`)
    if (pair !== undefined) { integer(pair, 7, 0x80, out); continue }
    const nameIndex = staticNameIndex.get(name)
    if (nameIndex !== undefined) integer(nameIndex, 4, 0x00, out)
    else { out.push(0x00); rawString(name, out) }
    rawString(value, out)
  }
  return Buffer.from(out)
}

/**
 * Decodes the peer's header blocks (RFC 7541), keeping the dynamic table the peer's encoder builds
 * across blocks. One decoder per connection; blocks must be fed in the order they arrived.
 */
export class HpackDecoder {
  /** Newest first; index 62 is dynamic[0]. */
  private dynamic: HeaderList = []
  private size = 0

  /** `limit`: SETTINGS_HEADER_TABLE_SIZE we announced (4096, the default). */
  constructor(private limit = 4096, private maxSize = 4096) {}

  decode(block: Uint8Array): HeaderList {
    const fields: HeaderList = []
    let pos = 0
    const byte = (): number => {
      if (pos >= block.length) throw new HpackError('a header block ends in the middle of a field')
      return block[pos++] as number
    }
    const int = (prefixBits: number): number => {
      const max = (1 << prefixBits) - 1
      let value = byte() & max
      if (value < max) return value
      for (let shift = 1; ; shift *= 128) {
        const b = byte()
        value += (b & 0x7f) * shift
        if ((b & 0x80) === 0) return value
        if (shift > 2 ** 28) throw new HpackError('a header block holds an integer too large')
      }
    }
    const str = (): string => {
      const huffman = ((block[pos] ?? 0) & 0x80) !== 0
      const length = int(7)
      if (pos + length > block.length) throw new HpackError('a header string runs past its block')
      const bytes = block.subarray(pos, pos + length)
      pos += length
      return huffman ? huffmanDecode(bytes) : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1')
    }
    while (pos < block.length) {
      const b = block[pos] as number
      if (b & 0x80) {
        fields.push(this.entry(int(7)))
      } else if (b & 0x40) {
        const index = int(6)
        const name = index === 0 ? str() : (this.entry(index)[0])
        const field: [string, string] = [name, str()]
        fields.push(field)
        this.add(field)
      } else if (b & 0x20) {
        const size = int(5)
        if (size > this.limit) throw new HpackError(`the peer sized its header table at ${size}, above the ${this.limit} we allow`)
        this.maxSize = size
        this.evict()
      } else {
        // Literal without indexing (0000) or never indexed (0001): a 4-bit name index.
        const index = int(4)
        const name = index === 0 ? str() : (this.entry(index)[0])
        fields.push([name, str()])
      }
    }
    return fields
  }

  private entry(index: number): [string, string] {
    const e = index >= 1 && index <= staticTable.length ? staticTable[index - 1] : this.dynamic[index - staticTable.length - 1]
    if (e === undefined) throw new HpackError(`a header block refers to entry ${index}, which the table does not hold`)
    return e
  }

  private add(field: [string, string]): void {
    const size = field[0].length + field[1].length + 32
    if (size > this.maxSize) { this.dynamic = []; this.size = 0; return }
    this.dynamic.unshift(field)
    this.size += size
    this.evict()
  }

  private evict(): void {
    while (this.size > this.maxSize) {
      const old = this.dynamic.pop() as [string, string]
      this.size -= old[0].length + old[1].length + 32
    }
  }
}
