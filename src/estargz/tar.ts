/**
 * Just enough tar for eStargz: an incremental header scanner that reads entries the way Go's
 * archive/tar does (USTAR prefix, PAX records, GNU long names, base-256 numbers, the legacy NUL
 * type flag), giving for each entry the tar.Header Go's Reader would return (which the writer
 * re-encodes as Go's Writer does, go-tar-header.ts) and where its payload lies; and the USTAR
 * header Go's tar.Writer writes for the landmark and TOC.
 *
 * Payload bytes are never held: the scanner only sees them go by.
 */
import { InvalidLayerError, UnsupportedTarEntryError } from './errors.js'
import { FORMAT_GNU, FORMAT_PAX, FORMAT_USTAR, goWriteHeader, type GoHeader, type GoTime } from './go-tar-header.js'

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
  /** The tar.Header Go's Reader returns for the entry: what the writer re-encodes, as Go's does. */
  go: GoHeader
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
  /** Go's running format guess over the entry's blocks (Reader.next). */
  format: number
  pax?: Map<string, Buffer>
  longName?: string
  longLink?: string
  /** The same as Go strings (bytes as latin1). */
  longNameRaw?: string
  longLinkRaw?: string
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
    const pending: Pending = this.pending ?? { headerStart: at, format: FORMAT_USTAR | FORMAT_PAX | FORMAT_GNU }
    const blk = goBlockFormat(b)
    pending.format &= blk.format

    if (flag === 'x' || flag === 'L' || flag === 'K') {
      pending.format &= flag === 'x' ? FORMAT_PAX : FORMAT_GNU
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
      go: goHeaderOf(b, blk, size, pending, at),
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
    else if (m.type === 'L') [p.longName, p.longNameRaw] = [parseString(data), parseBytes(data)]
    else [p.longLink, p.longLinkRaw] = [parseString(data), parseBytes(data)]
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

/** A NUL-terminated field as a Go string: its bytes, as latin1. */
function parseBytes(b: Uint8Array): string {
  const nul = b.indexOf(0)
  return Buffer.from(b.buffer, b.byteOffset, nul < 0 ? b.length : nul).toString('latin1')
}

interface BlockFormat {
  /** What block.getFormat says (V7, USTAR|PAX, GNU or STAR), before readHeader's checks. */
  magic: 'v7' | 'ustar' | 'gnu' | 'star'
  /** hdr.Format as readHeader sets it for this block. */
  format: number
}

/**
 * block.getFormat and readHeader's format guess: a USTAR block is USTAR-or-PAX only when it is
 * all ASCII and its numeric fields end in NUL (Go's own layout), otherwise its format is unknown
 * (0), which makes the Writer choose the format afresh (the testkit's `000755 \0` fields land here).
 */
function goBlockFormat(b: Buffer): BlockFormat {
  const magic = b.toString('latin1', 257, 263)
  const version = b.toString('latin1', 263, 265)
  if (magic === 'ustar\0' && b.toString('latin1', 508, 512) === 'tar\0') return { magic: 'star', format: 0 }
  if (magic === 'ustar\0') {
    const ascii = b.every((c) => c < 0x80)
    const nulEnded = [135, 107, 115, 123, 147, 336, 344].every((i) => b[i] === 0)
    return { magic: 'ustar', format: ascii && nulEnded ? FORMAT_USTAR | FORMAT_PAX : 0 }
  }
  if (magic === 'ustar ' && version === ' \0') return { magic: 'gnu', format: FORMAT_GNU }
  return { magic: 'v7', format: 0 }
}

/** GNU atime/ctime, read only when the field's first byte is not NUL; undefined when it does not parse. */
function gnuTime(b: Buffer, at: number): GoTime | undefined | null {
  if (b[at] === 0) return undefined
  try {
    return { sec: parseNumeric(b.subarray(at, at + 12), 'time', 0), nsec: 0 }
  } catch {
    return null
  }
}

/** Go's parsePAXTime: seconds and up to nine digits of fraction, negative times counted down. */
function goPaxTime(v: string, at: number): GoTime {
  const m = /^([-+]?\d+)(?:\.(\d*))?$/.exec(v)
  if (!m) throw new InvalidLayerError(`bad PAX time ${JSON.stringify(v)} at offset ${at}`)
  const sec = Number(m[1])
  const nsec = Number(((m[2] ?? '') + '000000000').slice(0, 9))
  if (m[1]!.startsWith('-') && nsec !== 0) return { sec: sec - 1, nsec: 1e9 - nsec }
  return { sec, nsec }
}

/** Reader.readHeader + mergePAX + the long names: the Header Go's Reader.Next returns. */
function goHeaderOf(b: Buffer, blk: BlockFormat, size: number, p: Pending, at: number): GoHeader {
  const num = (from: number, to: number, what: string): number => parseNumeric(b.subarray(from, to), what, at)
  const h: GoHeader = {
    typeflag: b[156] ?? 0,
    name: parseBytes(b.subarray(0, 100)),
    linkname: parseBytes(b.subarray(157, 257)),
    size,
    mode: num(100, 108, 'mode'),
    uid: num(108, 116, 'uid'),
    gid: num(116, 124, 'gid'),
    uname: '',
    gname: '',
    modTime: { sec: num(136, 148, 'mtime'), nsec: 0 },
    accessTime: undefined,
    changeTime: undefined,
    devmajor: 0,
    devminor: 0,
    xattrs: undefined,
    paxRecords: undefined,
    format: 0,
  }
  if (blk.magic !== 'v7') {
    h.uname = parseBytes(b.subarray(265, 297))
    h.gname = parseBytes(b.subarray(297, 329))
    h.devmajor = num(329, 337, 'devmajor')
    h.devminor = num(337, 345, 'devminor')
    let prefix = ''
    if (blk.magic === 'ustar') prefix = parseBytes(b.subarray(345, 500))
    else if (blk.magic === 'star') {
      prefix = parseBytes(b.subarray(345, 476))
      h.accessTime = { sec: num(476, 488, 'atime'), nsec: 0 }
      h.changeTime = { sec: num(488, 500, 'ctime'), nsec: 0 }
    } else {
      const a = gnuTime(b, 345)
      const c = gnuTime(b, 357)
      if (a === null || c === null) {
        // A pre-Go 1.8 writer's prefix in the GNU time fields: Go reads it as a prefix instead.
        p.format = 0
        const s = parseBytes(b.subarray(345, 500))
        if (/^[\x00-\x7f]*$/.test(s)) prefix = s
      } else {
        h.accessTime = a
        h.changeTime = c
      }
    }
    if (prefix !== '') h.name = `${prefix}/${h.name}`
  }
  if (p.pax) {
    const recs = new Map<string, string>()
    for (const [k, raw] of p.pax) {
      const v = raw.toString('latin1')
      recs.set(Buffer.from(k, 'utf8').toString('latin1'), v)
    }
    for (const [k, v] of recs) {
      if (v === '') continue
      switch (k) {
        case 'path': h.name = v; break
        case 'linkpath': h.linkname = v; break
        case 'uname': h.uname = v; break
        case 'gname': h.gname = v; break
        case 'uid': h.uid = paxInt(v, k, at); break
        case 'gid': h.gid = paxInt(v, k, at); break
        case 'size': h.size = paxInt(v, k, at); break
        case 'mtime': h.modTime = goPaxTime(v, at); break
        case 'atime': h.accessTime = goPaxTime(v, at); break
        case 'ctime': h.changeTime = goPaxTime(v, at); break
        default:
          if (k.startsWith('SCHILY.xattr.')) (h.xattrs ??= new Map()).set(k.slice('SCHILY.xattr.'.length), v)
      }
    }
    h.paxRecords = recs
  }
  if (p.longNameRaw) h.name = p.longNameRaw
  if (p.longLinkRaw) h.linkname = p.longLinkRaw
  if (h.typeflag === 0) h.typeflag = h.name.endsWith('/') ? 0x35 : 0x30
  let format = p.format
  if (format & FORMAT_USTAR && format & FORMAT_PAX) format &= FORMAT_USTAR
  h.format = format
  return h
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

/**
 * The header blocks estargz.Build writes for an entry: Build writes each entry into a part's tar
 * with tar.Writer, and the estargz Writer reads that tar back and writes every header again, so
 * the header goes through Go's Reader and Writer twice. The second pass matters: the first
 * chooses a format for a header of unknown format, the second honours the one it chose.
 */
export function goEntryHeader(h: GoHeader): Buffer {
  const first = goWriteHeader(h)
  let again: GoHeader | undefined
  const scanner = new TarScanner((e) => {
    again ??= e.go
  })
  scanner.push(first)
  if (again === undefined) throw new Error(`internal: Go tar header for ${JSON.stringify(h.name)} did not read back`)
  return goWriteHeader(again)
}
