/**
 * Go's archive/tar Header and Writer.WriteHeader, ported so an entry's header blocks come out as
 * stargz-snapshotter's estargz writer makes them. That writer does not copy input headers: it
 * reads each entry with tar.Reader and writes it with tar.Writer.WriteHeader, which re-encodes
 * every field in Go's own layout (zero-padded octal, `NUL space` after the checksum, PAX
 * records sorted by key under `PaxHeaders.0/`, GNU long names as `././@LongLink`). estargz.Build
 * does this twice (once into the part's intermediate tar, once into the blob), so
 * goEntryHeader() does too.
 *
 * Strings are Go strings: byte strings, held here as latin1 JS strings so that length, the ASCII
 * test and key order are those of the bytes, as in Go.
 */

import { UnsupportedTarEntryError } from './errors.js'

/** Go's tar.Format bits (format.go). */
export const FORMAT_V7 = 1
export const FORMAT_USTAR = 2
export const FORMAT_PAX = 4
export const FORMAT_GNU = 8
export const FORMAT_STAR = 16

/** A time.Time as Go's tar code sees it: Unix seconds and nanoseconds in [0, 1e9). */
export interface GoTime {
  sec: number
  nsec: number
}

/** The fields of tar.Header the Writer looks at (SparseHoles aside: sparse files are refused). */
export interface GoHeader {
  typeflag: number
  name: string
  linkname: string
  size: number
  mode: number
  uid: number
  gid: number
  uname: string
  gname: string
  /** Always set by Go's Reader (time.Unix(n, 0) is not the zero Time). */
  modTime: GoTime
  /** Unset is Go's zero Time. */
  accessTime: GoTime | undefined
  changeTime: GoTime | undefined
  devmajor: number
  devminor: number
  xattrs: Map<string, string> | undefined
  paxRecords: Map<string, string> | undefined
  format: number
}

const BLOCK = 512
const NAME_SIZE = 100
const PREFIX_SIZE = 155
const TYPE_REG = 0x30
const TYPE_REGA = 0
const TYPE_DIR = 0x35
const TYPE_XHEADER = 0x78
const TYPE_GNU_LONGNAME = 0x4c
const TYPE_GNU_LONGLINK = 0x4b

const BASIC_KEYS = new Set(['path', 'linkpath', 'size', 'uid', 'gid', 'uname', 'gname', 'mtime', 'atime', 'ctime'])

/** A Header Go's WriteHeader refuses (so estargz.Build fails on the layer too). */
export class GoTarHeaderError extends UnsupportedTarEntryError {}

function isASCII(s: string): boolean {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) >= 0x80) return false
  return true
}

function hasNUL(s: string): boolean {
  return s.includes('\0')
}

/** Go's toASCII: drops every non-ASCII rune (of the UTF-8 decoding) and NUL. */
function toASCII(s: string): string {
  if (isASCII(s)) return s
  let out = ''
  for (const c of Buffer.from(s, 'latin1').toString('utf8')) {
    const cp = c.codePointAt(0) ?? 0
    if (cp < 0x80 && cp !== 0) out += c
  }
  return out
}

function fitsInOctal(n: number, x: number): boolean {
  return x >= 0 && (n >= 22 || x < 2 ** ((n - 1) * 3))
}

function fitsInBase256(n: number, x: number): boolean {
  const bits = (n - 1) * 8
  return n >= 9 || (x >= -(2 ** bits) && x < 2 ** bits)
}

/** Go's formatter.formatString, including its trailing-slash fix-up for a truncated name. */
function formatString(b: Buffer, at: number, len: number, s: string): void {
  b.write(s.slice(0, len), at, 'latin1')
  if (s.length < len) b[at + s.length] = 0
  if (s.length > len && b[at + len - 1] === 0x2f) {
    let n = len - 1
    while (n > 0 && s.charCodeAt(n - 1) === 0x2f) n--
    b[at + n] = 0
  }
}

/** Go's formatOctal: zero-padded to leave room for a NUL; zero when it does not fit. */
function formatOctal(b: Buffer, at: number, len: number, x: number): void {
  if (!fitsInOctal(len, x)) x = 0
  let s = x.toString(8)
  if (len - s.length - 1 > 0) s = '0'.repeat(len - s.length - 1) + s
  formatString(b, at, len, s)
}

/** Go's formatNumeric: octal when it fits, else base-256 (two's complement, high bit set). */
function formatNumeric(b: Buffer, at: number, len: number, x: number): void {
  if (fitsInOctal(len, x)) return formatOctal(b, at, len, x)
  if (fitsInBase256(len, x)) {
    let v = BigInt(x)
    for (let i = len - 1; i >= 0; i--) {
      b[at + i] = Number(BigInt.asUintN(8, v))
      v >>= 8n
    }
    b[at] = (b[at] ?? 0) | 0x80
    return
  }
  formatOctal(b, at, len, 0)
}

function formatPAXTime(t: GoTime): string {
  let { sec, nsec } = t
  if (nsec === 0) return String(sec)
  let sign = ''
  if (sec < 0) {
    sign = '-'
    sec = -(sec + 1)
    nsec = -(nsec - 1e9)
  }
  return `${sign}${sec}.${String(nsec).padStart(9, '0')}`.replace(/0+$/, '')
}

function validPAXRecord(k: string, v: string): boolean {
  if (k === '' || k.includes('=')) return false
  if (k === 'path' || k === 'linkpath' || k === 'uname' || k === 'gname') return !hasNUL(v)
  return !hasNUL(k)
}

function formatPAXRecord(k: string, v: string): string {
  const pad = 3 // ' ', '=' and '\n'
  let size = k.length + v.length + pad
  size += String(size).length
  let rec = `${size} ${k}=${v}\n`
  if (rec.length !== size) rec = `${rec.length} ${k}=${v}\n`
  return rec
}

function splitUSTARPath(name: string): [string, string] | undefined {
  let length = name.length
  if (length <= NAME_SIZE || !isASCII(name)) return undefined
  if (length > PREFIX_SIZE + 1) length = PREFIX_SIZE + 1
  else if (name.charCodeAt(length - 1) === 0x2f) length--
  const i = name.lastIndexOf('/', length - 1)
  const nlen = name.length - i - 1
  if (i <= 0 || nlen > NAME_SIZE || nlen === 0 || i > PREFIX_SIZE) return undefined
  return [name.slice(0, i), name.slice(i + 1)]
}

/** Header.allowedFormats (common.go), minus the sparse and global-header cases. */
function allowedFormats(h: GoHeader): { format: number; pax: Map<string, string> } {
  let format = FORMAT_USTAR | FORMAT_PAX | FORMAT_GNU
  const pax = new Map<string, string>()
  let preferPAX = false
  const recs = h.paxRecords

  const verifyString = (s: string, size: number, paxKey: string): void => {
    const tooLong = s.length > size
    const allowLongGNU = paxKey === 'path' || paxKey === 'linkpath'
    if (hasNUL(s) || (tooLong && !allowLongGNU)) format &= ~FORMAT_GNU
    if (!isASCII(s) || tooLong) {
      if (paxKey !== 'path' || splitUSTARPath(s) === undefined) format &= ~FORMAT_USTAR
      pax.set(paxKey, s)
    }
    if (recs?.get(paxKey) === s) pax.set(paxKey, s)
  }
  const verifyNumeric = (n: number, size: number, paxKey: string | undefined): void => {
    if (!fitsInBase256(size, n)) format &= ~FORMAT_GNU
    if (!fitsInOctal(size, n)) {
      format &= ~FORMAT_USTAR
      if (paxKey === undefined) format &= ~FORMAT_PAX
      else pax.set(paxKey, String(n))
    }
    if (paxKey !== undefined && recs?.get(paxKey) === String(n)) pax.set(paxKey, String(n))
  }
  const verifyTime = (ts: GoTime | undefined, size: number, paxKey: string): void => {
    if (ts === undefined) return
    if (!fitsInBase256(size, ts.sec)) format &= ~FORMAT_GNU
    const isMtime = paxKey === 'mtime'
    const fitsOctal = fitsInOctal(size, ts.sec)
    if (!isMtime || !fitsOctal) format &= ~FORMAT_USTAR
    if (!isMtime || !fitsOctal || ts.nsec !== 0) {
      preferPAX = true // USTAR would drop the sub-second part
      pax.set(paxKey, formatPAXTime(ts))
    }
    if (recs?.get(paxKey) === formatPAXTime(ts)) pax.set(paxKey, formatPAXTime(ts))
  }

  verifyString(h.name, 100, 'path')
  verifyString(h.linkname, 100, 'linkpath')
  verifyString(h.uname, 32, 'uname')
  verifyString(h.gname, 32, 'gname')
  verifyNumeric(h.mode, 8, undefined)
  verifyNumeric(h.uid, 8, 'uid')
  verifyNumeric(h.gid, 8, 'gid')
  verifyNumeric(h.size, 12, 'size')
  verifyNumeric(h.devmajor, 8, undefined)
  verifyNumeric(h.devminor, 8, undefined)
  verifyTime(h.modTime, 12, 'mtime')
  verifyTime(h.accessTime, 12, 'atime')
  verifyTime(h.changeTime, 12, 'ctime')

  const t = h.typeflag
  if ((t === TYPE_REG || t === 0x33 || t === 0x34 || t === 0x36) && h.name.endsWith('/')) {
    throw new GoTarHeaderError(`archive/tar: filename may not have trailing slash: ${h.name}`)
  }
  if (h.xattrs && h.xattrs.size > 0) {
    for (const [k, v] of h.xattrs) pax.set(`SCHILY.xattr.${k}`, v)
    format &= FORMAT_PAX
  }
  if (recs && recs.size > 0) {
    for (const [k, v] of recs) {
      if (pax.has(k)) continue // records derived from the fields win
      if (!BASIC_KEYS.has(k) && !k.startsWith('GNU.sparse.')) pax.set(k, v)
    }
    format &= FORMAT_PAX
  }
  for (const [k, v] of pax) {
    if (!validPAXRecord(k, v)) throw new GoTarHeaderError(`archive/tar: invalid PAX record: ${JSON.stringify(`${k} = ${v}`)}`)
  }
  let want = h.format
  if (want !== 0) {
    if (want & FORMAT_PAX && !preferPAX) want |= FORMAT_USTAR // PAX implies USTAR allowed too
    format &= want
  }
  if (format === 0) throw new GoTarHeaderError(`archive/tar: cannot encode header for ${JSON.stringify(h.name)}`)
  return { format, pax }
}

/** templateV7Plus: the fields every format shares. */
function templateV7Plus(h: GoHeader, str: (b: Buffer, at: number, len: number, s: string) => void, num: typeof formatOctal): Buffer {
  const b = Buffer.alloc(BLOCK)
  b[156] = h.typeflag
  str(b, 0, 100, h.name)
  str(b, 157, 100, h.linkname)
  num(b, 100, 8, h.mode)
  num(b, 108, 8, h.uid)
  num(b, 116, 8, h.gid)
  num(b, 124, 12, h.size)
  num(b, 136, 12, h.modTime.sec)
  str(b, 265, 32, h.uname)
  str(b, 297, 32, h.gname)
  num(b, 329, 8, h.devmajor)
  num(b, 337, 8, h.devminor)
  return b
}

/** block.setFormat: magic and version, then the checksum as 6 octal digits, NUL, space. */
function setFormat(b: Buffer, format: number): Buffer {
  if (format & FORMAT_GNU) b.write('ustar  \0', 257, 'latin1')
  else if (format & (FORMAT_USTAR | FORMAT_PAX)) b.write('ustar\x0000', 257, 'latin1')
  let sum = 0
  for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : (b[i] ?? 0)
  formatOctal(b, 148, 7, sum)
  b[155] = 0x20
  return b
}

/** writeRawFile: a PAX or GNU long-name pseudo-entry, header and padded data. */
function rawFile(name: string, data: string, flag: number, format: number): Buffer[] {
  const b = Buffer.alloc(BLOCK)
  name = toASCII(name)
  if (name.length > NAME_SIZE) name = name.slice(0, NAME_SIZE)
  name = name.replace(/\/+$/, '')
  b[156] = flag
  formatString(b, 0, 100, name)
  formatOctal(b, 100, 8, 0)
  formatOctal(b, 108, 8, 0)
  formatOctal(b, 116, 8, 0)
  formatOctal(b, 124, 12, data.length)
  formatOctal(b, 136, 12, 0)
  setFormat(b, format)
  const body = Buffer.from(data, 'latin1')
  return [b, body, Buffer.alloc((BLOCK - (body.length % BLOCK)) % BLOCK)]
}

/** Go's path.Join(dir, "PaxHeaders.0", file) for path.Split(name). */
function paxHeaderName(name: string): string {
  const slash = name.lastIndexOf('/')
  const dir = name.slice(0, slash + 1)
  const file = name.slice(slash + 1)
  return cleanPath([dir, 'PaxHeaders.0', file].filter((p) => p !== '').join('/'))
}

/** Go's path.Clean. */
function cleanPath(p: string): string {
  if (p === '') return '.'
  const rooted = p.startsWith('/')
  const out: string[] = []
  for (const part of p.split('/')) {
    if (part === '' || part === '.') continue
    if (part === '..') {
      if (out.length > 0 && out[out.length - 1] !== '..') out.pop()
      else if (!rooted) out.push('..')
      continue
    }
    out.push(part)
  }
  const s = (rooted ? '/' : '') + out.join('/')
  return s === '' ? '.' : s
}

/** Writer.WriteHeader: the header blocks (with any PAX or long-name blocks before them). */
export function goWriteHeader(hdr: GoHeader): Buffer {
  const h: GoHeader = { ...hdr }
  if (h.typeflag === TYPE_REGA) h.typeflag = h.name.endsWith('/') ? TYPE_DIR : TYPE_REG
  if (h.format === 0) {
    // Round half up to the second, as time.Time.Round, and forget atime and ctime.
    h.modTime = h.modTime.nsec >= 5e8 ? { sec: h.modTime.sec + 1, nsec: 0 } : { sec: h.modTime.sec, nsec: 0 }
    h.accessTime = undefined
    h.changeTime = undefined
  }
  const { format, pax } = allowedFormats(h)
  if (format & FORMAT_USTAR) {
    const split = splitUSTARPath(h.name)
    const u: GoHeader = split ? { ...h, name: split[1] } : h
    const b = templateV7Plus(u, formatString, formatOctal)
    formatString(b, 345, 155, split ? split[0] : '')
    return setFormat(b, FORMAT_USTAR)
  }
  if (format & FORMAT_PAX) {
    const out: Buffer[] = []
    if (pax.size > 0) {
      const keys = [...pax.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))
      const data = keys.map((k) => formatPAXRecord(k, pax.get(k) ?? '')).join('')
      out.push(...rawFile(paxHeaderName(h.name), data, TYPE_XHEADER, FORMAT_PAX))
    }
    const ascii = (b: Buffer, at: number, len: number, s: string): void => formatString(b, at, len, toASCII(s))
    out.push(setFormat(templateV7Plus(h, ascii, formatOctal), FORMAT_PAX))
    return Buffer.concat(out)
  }
  const out: Buffer[] = []
  if (h.name.length > NAME_SIZE) out.push(...rawFile('././@LongLink', `${h.name}\0`, TYPE_GNU_LONGNAME, FORMAT_GNU))
  if (h.linkname.length > NAME_SIZE) out.push(...rawFile('././@LongLink', `${h.linkname}\0`, TYPE_GNU_LONGLINK, FORMAT_GNU))
  const b = templateV7Plus(h, formatString, formatNumeric)
  if (h.accessTime) formatNumeric(b, 345, 12, h.accessTime.sec)
  if (h.changeTime) formatNumeric(b, 357, 12, h.changeTime.sec)
  out.push(setFormat(b, FORMAT_GNU))
  return Buffer.concat(out)
}


