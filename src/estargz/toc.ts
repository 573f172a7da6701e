/**
 * The TOC (`stargz.index.json`): its JSON is written exactly as Go's
 * `json.MarshalIndent(toc, "", "\t")` writes the Go JTOC struct (field order, omitempty, HTML
 * escaping, base64 xattrs), so what the Go tools would hash is what we hash.
 */
import { goMarshal, compareUtf8, type GoJsonValue } from '../oci/go-json.js'
import { EstargzFormatError } from './errors.js'
import type { TocType } from './tar.js'

export type TocEntryType = TocType | 'chunk'

export interface TocEntry {
  name: string
  type: TocEntryType
  size?: number
  /** RFC 3339, UTC, whole seconds. */
  modtime?: string
  linkName?: string
  mode?: number
  uid?: number
  gid?: number
  userName?: string
  groupName?: string
  /** Compressed offset of the gzip member holding this payload (chunk). */
  offset?: number
  innerOffset?: number
  devMajor?: number
  devMinor?: number
  /** Values base64 (Go marshals []byte that way). */
  xattrs?: Record<string, string>
  digest?: string
  chunkOffset?: number
  chunkSize?: number
  chunkDigest?: string
}

export interface Toc {
  version: number
  entries: TocEntry[]
}

const omitZero = (n: number | undefined): number | undefined => (n ? n : undefined)
const omitEmpty = (s: string | undefined): string | undefined => (s ? s : undefined)

function entryValue(e: TocEntry): GoJsonValue {
  let xattrs: Record<string, string> | undefined
  if (e.xattrs && Object.keys(e.xattrs).length > 0) {
    xattrs = {}
    for (const k of Object.keys(e.xattrs).sort(compareUtf8)) xattrs[k] = e.xattrs[k]!
  }
  // Declaration order of the Go TOCEntry struct.
  return {
    name: e.name,
    type: e.type,
    size: omitZero(e.size),
    modtime: omitEmpty(e.modtime),
    linkName: omitEmpty(e.linkName),
    mode: omitZero(e.mode),
    uid: omitZero(e.uid),
    gid: omitZero(e.gid),
    userName: omitEmpty(e.userName),
    groupName: omitEmpty(e.groupName),
    offset: omitZero(e.offset),
    innerOffset: omitZero(e.innerOffset),
    devMajor: omitZero(e.devMajor),
    devMinor: omitZero(e.devMinor),
    xattrs,
    digest: omitEmpty(e.digest),
    chunkOffset: omitZero(e.chunkOffset),
    chunkSize: omitZero(e.chunkSize),
    chunkDigest: omitEmpty(e.chunkDigest),
  }
}

/** The TOC JSON bytes, as Go's json.MarshalIndent(toc, "", "\t") writes them. */
export function marshalToc(toc: Toc): Buffer {
  const compact = goMarshal({ version: toc.version, entries: toc.entries.map(entryValue) })
  return Buffer.from(goIndent(compact, '\t'), 'utf8')
}

/** Go's json.Indent with an empty prefix, for compact JSON as goMarshal writes it. */
export function goIndent(compact: string, indent: string): string {
  let out = ''
  let depth = 0
  let needIndent = false
  let start = 0
  const newline = () => '\n' + indent.repeat(depth)
  for (let i = 0; i < compact.length; i++) {
    const c = compact[i]
    if (c === '"') {
      // Copy the string whole; goMarshal escapes every '"' and '\' inside it.
      let j = i + 1
      while (compact[j] !== '"') j += compact[j] === '\\' ? 2 : 1
      if (needIndent) {
        needIndent = false
        depth++
        out += compact.slice(start, i) + newline()
        start = i
      }
      i = j
      continue
    }
    if (needIndent && c !== ']' && c !== '}') {
      needIndent = false
      depth++
      out += compact.slice(start, i) + newline()
      start = i
    }
    switch (c) {
      case '{':
      case '[':
        needIndent = true
        break
      case ',':
        out += compact.slice(start, i + 1) + newline()
        start = i + 1
        break
      case ':':
        out += compact.slice(start, i + 1) + ' '
        start = i + 1
        break
      case '}':
      case ']':
        if (needIndent) {
          needIndent = false // an empty object or array stays `{}` / `[]`
        } else {
          depth--
          out += compact.slice(start, i) + newline()
          start = i
        }
        break
    }
  }
  return out + compact.slice(start)
}

const TYPES = new Set<string>(['dir', 'reg', 'symlink', 'hardlink', 'char', 'block', 'fifo', 'chunk'])
const NUMBERS = ['size', 'mode', 'uid', 'gid', 'offset', 'innerOffset', 'devMajor', 'devMinor', 'chunkOffset', 'chunkSize'] as const
const STRINGS = ['modtime', 'linkName', 'userName', 'groupName', 'digest', 'chunkDigest'] as const

/** Parse and sanity-check TOC JSON; unknown keys (e.g. old blobs' `NumLink`) are ignored. */
export function parseToc(json: Uint8Array): Toc {
  let raw: unknown
  try {
    raw = JSON.parse(Buffer.from(json).toString('utf8'))
  } catch (err) {
    throw new EstargzFormatError(`TOC is not JSON: ${(err as Error).message}`)
  }
  const bad = (why: string): never => {
    throw new EstargzFormatError(`malformed TOC: ${why}`)
  }
  if (typeof raw !== 'object' || raw === null) bad('not an object')
  const r = raw as { version?: unknown; entries?: unknown }
  if (typeof r.version !== 'number') bad('no version')
  if (r.entries !== null && r.entries !== undefined && !Array.isArray(r.entries)) bad('entries is not an array')
  const entries: TocEntry[] = []
  for (const [i, v] of ((r.entries as unknown[] | null | undefined) ?? []).entries()) {
    if (typeof v !== 'object' || v === null) bad(`entry ${i} is not an object`)
    const o = v as Record<string, unknown>
    if (typeof o.name !== 'string') bad(`entry ${i} has no name`)
    if (typeof o.type !== 'string' || !TYPES.has(o.type)) bad(`entry ${i} (${String(o.name)}) has type ${JSON.stringify(o.type)}`)
    const e: TocEntry = { name: o.name as string, type: o.type as TocEntryType }
    for (const k of NUMBERS) {
      const n = o[k]
      if (n === undefined || n === null) continue
      if (typeof n !== 'number' || !Number.isSafeInteger(n) || (n < 0 && k !== 'uid' && k !== 'gid')) bad(`entry ${i} (${e.name}) has ${k} ${JSON.stringify(n)}`)
      e[k] = n as number
    }
    for (const k of STRINGS) {
      const s = o[k]
      if (s === undefined || s === null) continue
      if (typeof s !== 'string') bad(`entry ${i} (${e.name}) has ${k} ${JSON.stringify(s)}`)
      e[k] = s as string
    }
    if (o.xattrs !== undefined && o.xattrs !== null) {
      if (typeof o.xattrs !== 'object') bad(`entry ${i} (${e.name}) has bad xattrs`)
      const x: Record<string, string> = {}
      for (const [k, val] of Object.entries(o.xattrs as Record<string, unknown>)) {
        if (typeof val !== 'string') bad(`entry ${i} (${e.name}) has bad xattr ${k}`)
        x[k] = val as string
      }
      e.xattrs = x
    }
    entries.push(e)
  }
  return { version: r.version as number, entries }
}

/** Go's cleanEntryName: path.Clean("/" + name) without the leading slash ("" is the root). */
export function cleanEntryName(name: string): string {
  const parts: string[] = []
  for (const p of name.split('/')) {
    if (p === '' || p === '.') continue
    if (p === '..') parts.pop()
    else parts.push(p)
  }
  return parts.join('/')
}
