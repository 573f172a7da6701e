/**
 * Just enough tar for eStargz: an incremental header scanner that reads entries the way Go's
 * archive/tar does (USTAR prefix, PAX records, GNU long names, base-256 numbers, the legacy NUL
 * type flag) and remembers where each entry's header blocks and payload lie, so the writer can
 * copy them byte for byte; and the USTAR header Go's tar.Writer writes for the landmark and TOC.
 *
 * Payload bytes are never held: the scanner only sees them go by.
 */
import { InvalidLayerError, UnsupportedTarEntryError } from './errors.js'

export const BLOCK = 512

export type TocType = 'dir' | 'reg' | 'symlink' | 'hardlink' | 'char' | 'block' | 'fifo'

export interface TarEntry {
  /** The name as the archive gives it (after PAX `path` / GNU long name), e.g. `./etc/` or `bin/sh`. */
  name: string
  type: TocType
  /** Payload length; 0 for header-only types whatever their size field says (as Go reads them). */
  size: number
  /** The raw mode field (permission bits and whatever else the archiver put there). */
  mode: number
  uid: number
  gid: number
  uname: string
  gname: string
  /** Unix seconds, truncated (Go's Time.Unix) and rounded (what the TOC records). */
  mtime: number
  mtimeRounded: number
  linkname: string
  devmajor: number
  devminor: number
  /** PAX `SCHILY.xattr.*` records, values as raw bytes. */
  xattrs: Map<string, Buffer> | undefined
  /** Offset of the entry's first header block in the tar (its PAX or GNU long-name header when it has one). */
  headerStart: number
  /** Offset of its payload (just past its last header block). */
  dataStart: number
}

const TYPES: Record<string, TocType> = {
  '0': 'reg', '1': 'hardlink', '2': 'symlink', '3': 'char', '4': 'block', '5': 'dir', '6': 'fifo',
}

const UNSUPPORTED: Record<string, string> = {
  g: 'PAX global header', '7': 'contiguous file', S: 'GNU sparse file', D: 'GNU dump directory',
  M: 'GNU multi-volume continuation', V: 'GNU volume label', N: 'GNU old long name',
}

function parseString(b: Uint8Array): string {
  const nul = b.indexOf(0)
  return Buffer.from(b.buffer, b.byteOffset, nul < 0 ? b.length : nul).toString('utf8')
}

/** Go's parseNumeric: base-256 when the high bit is set, otherwise octal trimmed of spaces and NULs. */
function parseNumeric(b: Uint8Array, what: string, at: number): number {
  const first = b[0] ?? 0
  if (first & 0x80) {
    const negative = (first & 0x40) !== 0
    let v = 0n
    for (let i = 0; i < b.length; i++) {
      let c = b[i] ?? 0
      if (negative) c ^= 0xff
      if (i === 0) c &= 0x7f
      v = (v << 8n) | BigInt(c)
    }
    const n = Number(negative ? -v - 1n : v)
    if (!Number.isSafeInteger(n)) throw new InvalidLayerError(`tar header at offset ${at}: ${what} out of range`)
    return n
  }
  let s = 0
  let e = b.length
  while (s < e && (b[s] === 0x20 || b[s] === 0)) s++
  while (e > s && (b[e - 1] === 0x20 || b[e - 1] === 0)) e--
  let n = 0
  for (let i = s; i < e; i++) {
    const c = (b[i] ?? 0) - 0x30
    if (c < 0 || c > 7) throw new InvalidLayerError(`not a tar archive: bad ${what} field in the header at offset ${at}`)
    n = n * 8 + c
  }
  return n
}

function checksumOk(block: Uint8Array, at: number): boolean {
  let stored: number
  try {
    stored = parseNumeric(block.subarray(148, 156), 'checksum', at)
  } catch {
    return false
  }
  let unsigned = 0
  let signed = 0
  for (let i = 0; i < BLOCK; i++) {
    const c = i >= 148 && i < 156 ? 0x20 : (block[i] ?? 0)
    unsigned += c
    signed += c > 127 ? c - 256 : c
  }
  return stored === unsigned || stored === signed
}

/** PAX extended header records: `<len> <key>=<value>\n`, values kept as bytes. */
function parsePax(data: Buffer, at: number): Map<string, Buffer> {
  const out = new Map<string, Buffer>()
  let i = 0
  while (i < data.length) {
    const sp = data.indexOf(0x20, i)
    const len = sp < 0 ? NaN : Number(data.toString('latin1', i, sp))
    if (!Number.isSafeInteger(len) || len < 5 || i + len > data.length || data[i + len - 1] !== 0x0a) {
      throw new InvalidLayerError(`corrupt PAX header at offset ${at}`)
    }
    const rec = data.subarray(sp + 1, i + len - 1)
    const eq = rec.indexOf(0x3d)
    if (eq < 0) throw new InvalidLayerError(`corrupt PAX record at offset ${at}`)
    out.set(rec.toString('utf8', 0, eq), Buffer.from(rec.subarray(eq + 1)))
    i += len
  }
  return out
}

/** `sec[.frac]` -> [truncated, rounded] seconds. */
function parsePaxTime(v: string, at: number): [number, number] {
  const m = /^(-?)(\d+)(?:\.(\d*))?$/.exec(v)
  if (!m) throw new InvalidLayerError(`bad PAX time ${JSON.stringify(v)} at offset ${at}`)
  const sec = Number(m[2]) * (m[1] ? -1 : 1)
  const frac = m[3] ?? ''
  const half = frac !== '' && frac[0]! >= '5'
  if (m[1]) return [/[1-9]/.test(frac) ? sec - 1 : sec, half ? sec - 1 : sec] // Go floors, rounds half away from zero
  return [sec, half ? sec + 1 : sec]
}

interface Pending {
  headerStart: number
  pax?: Map<string, Buffer>
  longName?: string
  longLink?: string
}

/**
 * Feed tar bytes in order with push(); entries are reported through onEntry as their headers
 * complete. finish() throws when the archive stops in the middle of an entry.
 */
export class TarScanner {
  private pos = 0
  private state: 'header' | 'meta' | 'skip' | 'end' = 'header'
  private readonly block = Buffer.alloc(BLOCK)
  private fill = 0
  private skip = 0
  private zeroSeen = false
  private meta: { type: string; size: number; parts: Buffer[]; got: number; at: number } | undefined
  private pending: Pending | undefined
  private current = ''

  constructor(private readonly onEntry: (e: TarEntry) => void) {}

  /** Bytes consumed so far; the archive's logical end once finish() has run. */
  get offset(): number {
    return this.pos
  }

  get ended(): boolean {
    return this.state === 'end'
  }

  push(chunk: Uint8Array): void {
    let i = 0
    while (i < chunk.length) {
      const left = chunk.length - i
      switch (this.state) {
        case 'end':
          this.pos += left
          return
        case 'skip': {
          const n = Math.min(left, this.skip)
          this.skip -= n
          i += n
          this.pos += n
          if (this.skip === 0) this.state = this.meta ? 'meta' : 'header'
          break
        }
        case 'meta': {
          const m = this.meta!
          const n = Math.min(left, m.size - m.got)
          m.parts.push(Buffer.from(chunk.subarray(i, i + n)))
          m.got += n
          i += n
          this.pos += n
          if (m.got === m.size) this.endMeta()
          break
        }
        case 'header': {
          const n = Math.min(left, BLOCK - this.fill)
          this.block.set(chunk.subarray(i, i + n), this.fill)
          this.fill += n
          i += n
          this.pos += n
          if (this.fill === BLOCK) {
            this.fill = 0
            this.header(this.pos - BLOCK)
          }
          break
        }
      }
    }
  }

  finish(): void {
    if (this.state === 'end') return
    if (this.state === 'header' && this.fill === 0 && !this.pending) return // EOF at an entry boundary, as Go allows
    const where = this.current ? ` in ${this.current}` : ''
    throw new InvalidLayerError(`tar archive is truncated${where} (${this.pos} bytes)`)
  }

  private header(at: number): void {
    const b = this.block
    if (b.every((c) => c === 0)) {
      if (this.zeroSeen) this.state = 'end'
      this.zeroSeen = true
      return
    }
    if (this.zeroSeen) throw new InvalidLayerError(`not a tar archive: data after an end-of-archive block at offset ${at}`)
    if (!checksumOk(b, at)) {
      throw new InvalidLayerError(at === 0 ? 'not a tar archive (bad header checksum at offset 0)' : `corrupt tar header at offset ${at} (bad checksum)`)
    }
    const magic = b.toString('latin1', 257, 265)
    const ustar = magic === 'ustar\x0000'
    const gnu = magic === 'ustar  \x00'
    const flag = String.fromCharCode(b[156] ?? 0)
    const size = parseNumeric(b.subarray(124, 136), 'size', at)
    const pending: Pending = this.pending ?? { headerStart: at }

    if (flag === 'x' || flag === 'L' || flag === 'K') {
      this.pending = pending
      this.meta = { type: flag, size, parts: [], got: 0, at }
      if (size > 16 << 20) throw new InvalidLayerError(`tar metadata header at offset ${at} is implausibly large (${size} bytes)`)
      this.state = 'meta'
      if (size === 0) this.endMeta()
      return
    }

    let name = parseString(b.subarray(0, 100))
    if (ustar) {
      const prefix = parseString(b.subarray(345, 500))
      if (prefix) name = `${prefix}/${name}`
    }
    const e: TarEntry = {
      name,
      type: 'reg',
      size,
      mode: parseNumeric(b.subarray(100, 108), 'mode', at),
      uid: parseNumeric(b.subarray(108, 116), 'uid', at),
      gid: parseNumeric(b.subarray(116, 124), 'gid', at),
      uname: ustar || gnu ? parseString(b.subarray(265, 297)) : '',
      gname: ustar || gnu ? parseString(b.subarray(297, 329)) : '',
      mtime: 0,
      mtimeRounded: 0,
      linkname: parseString(b.subarray(157, 257)),
      devmajor: ustar || gnu ? parseNumeric(b.subarray(329, 337), 'devmajor', at) : 0,
      devminor: ustar || gnu ? parseNumeric(b.subarray(337, 345), 'devminor', at) : 0,
      xattrs: undefined,
      headerStart: pending.headerStart,
      dataStart: at + BLOCK,
    }
    e.mtime = e.mtimeRounded = parseNumeric(b.subarray(136, 148), 'mtime', at)
    for (const [k, raw] of pending.pax ?? []) {
      if (k.startsWith('SCHILY.xattr.')) {
        ;(e.xattrs ??= new Map()).set(k.slice('SCHILY.xattr.'.length), raw)
        continue
      }
      if (k.startsWith('GNU.sparse.')) throw new UnsupportedTarEntryError(`unsupported tar entry: ${e.name} is a GNU sparse file`)
      const v = raw.toString('utf8')
      if (v === '') continue // Go keeps the header's own value
      switch (k) {
        case 'path': e.name = v; break
        case 'linkpath': e.linkname = v; break
        case 'uname': e.uname = v; break
        case 'gname': e.gname = v; break
        case 'uid': e.uid = paxInt(v, k, at); break
        case 'gid': e.gid = paxInt(v, k, at); break
        case 'size': e.size = paxInt(v, k, at); break
        case 'mtime': [e.mtime, e.mtimeRounded] = parsePaxTime(v, at); break
      }
    }
    if (pending.longName !== undefined && pending.longName !== '') e.name = pending.longName
    if (pending.longLink !== undefined && pending.longLink !== '') e.linkname = pending.longLink
    this.pending = undefined
    this.current = e.name

    const type = flag === '\0' ? (e.name.endsWith('/') ? 'dir' : 'reg') : TYPES[flag]
    if (type === undefined) {
      const what = UNSUPPORTED[flag] ?? `type flag ${JSON.stringify(flag)}`
      throw new UnsupportedTarEntryError(`unsupported tar entry: ${e.name} is a ${what}`)
    }
    e.type = type
    if (type !== 'reg') e.size = 0
    this.onEntry(e)
    this.skipPayload(e.size)
  }

  private endMeta(): void {
    const m = this.meta!
    const data = Buffer.concat(m.parts)
    const p = this.pending!
    if (m.type === 'x') p.pax = parsePax(data, m.at)
    else if (m.type === 'L') p.longName = parseString(data)
    else p.longLink = parseString(data)
    this.meta = undefined
    this.state = 'header'
    const pad = (BLOCK - (m.size % BLOCK)) % BLOCK
    if (pad) {
      this.skip = pad
      this.state = 'skip'
    }
  }

  private skipPayload(size: number): void {
    const total = size + ((BLOCK - (size % BLOCK)) % BLOCK)
    if (total > 0) {
      this.skip = total
      this.state = 'skip'
    }
  }
}

function paxInt(v: string, k: string, at: number): number {
  const n = Number(v)
  if (!/^-?\d+$/.test(v) || !Number.isSafeInteger(n)) throw new InvalidLayerError(`bad PAX ${k} ${JSON.stringify(v)} at offset ${at}`)
  return n
}

function octal(b: Buffer, at: number, width: number, value: number): void {
  b.write(value.toString(8).padStart(width - 1, '0'), at, 'latin1') // the last byte stays NUL
}

/**
 * The header Go's tar.Writer writes for `tar.Header{Name, Typeflag: TypeReg, Size}`: the landmark
 * and TOC entries. USTAR, every other field zero.
 */
export function ustarRegularHeader(name: string, size: number): Buffer {
  const b = Buffer.alloc(BLOCK)
  if (Buffer.byteLength(name) > 100) throw new RangeError(`name too long for a USTAR header: ${name}`)
  b.write(name, 0, 'utf8')
  octal(b, 100, 8, 0)
  octal(b, 108, 8, 0)
  octal(b, 116, 8, 0)
  octal(b, 124, 12, size)
  octal(b, 136, 12, 0)
  b[156] = 0x30
  b.write('ustar\x0000', 257, 'latin1')
  octal(b, 329, 8, 0)
  octal(b, 337, 8, 0)
  let sum = 0
  for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : (b[i] ?? 0)
  octal(b, 148, 7, sum)
  b[155] = 0x20
  return b
}

export function paddingFor(size: number): number {
  return (BLOCK - (size % BLOCK)) % BLOCK
}
