import { IntegrityError } from '../errors.js'
import { compareUtf8, goQuote } from './go-json.js'

/**
 * Go's map[string]*json.RawMessage round trip, which containerd's converter uses to rewrite a
 * config it only partly understands: members are kept as raw text, and on marshal the keys come
 * out sorted and every raw value is compacted with HTML escaping (Go's appendCompact).
 */
export type RawObject = Map<string, string>

function skipWs(s: string, i: number): number {
  while (i < s.length && (s[i] === ' ' || s[i] === '\t' || s[i] === '\n' || s[i] === '\r')) i++
  return i
}

/** End index (exclusive) of the JSON value starting at i. */
function scanValue(s: string, i: number): number {
  const c = s[i]
  if (c === '"') {
    for (let j = i + 1; j < s.length; j++) {
      if (s[j] === '\\') j++
      else if (s[j] === '"') return j + 1
    }
    throw new IntegrityError('unterminated string in JSON')
  }
  if (c === '{' || c === '[') {
    let depth = 0
    for (let j = i; j < s.length; j++) {
      const d = s[j]
      if (d === '"') { j = scanValue(s, j) - 1; continue }
      if (d === '{' || d === '[') depth++
      else if (d === '}' || d === ']') { depth--; if (depth === 0) return j + 1 }
    }
    throw new IntegrityError('unterminated object or array in JSON')
  }
  let j = i
  while (j < s.length && !',}] \t\n\r'.includes(s[j] as string)) j++
  if (j === i) throw new IntegrityError(`unexpected ${JSON.stringify(c)} in JSON`)
  return j
}

/** Split a JSON object into its members, values as raw text; a later duplicate key wins, as in Go. */
export function parseRawObject(text: string): RawObject {
  const s = text
  let i = skipWs(s, 0)
  if (s[i] !== '{') throw new IntegrityError('expected a JSON object')
  const out: RawObject = new Map()
  i = skipWs(s, i + 1)
  if (s[i] === '}') return out
  for (;;) {
    i = skipWs(s, i)
    const keyEnd = scanValue(s, i)
    const key = JSON.parse(s.slice(i, keyEnd)) as string
    i = skipWs(s, keyEnd)
    if (s[i] !== ':') throw new IntegrityError('expected : in JSON object')
    i = skipWs(s, i + 1)
    const end = scanValue(s, i)
    out.set(key, s.slice(i, end))
    i = skipWs(s, end)
    if (s[i] === ',') { i++; continue }
    if (s[i] === '}') return out
    throw new IntegrityError('expected , or } in JSON object')
  }
}

/** Go's appendCompact with escapeHTML: drop insignificant whitespace; escape < > & U+2028 U+2029 in strings. */
export function goCompact(raw: string): string {
  let out = ''
  for (let i = 0; i < raw.length; i++) {
    const c = raw[i] as string
    if (c === '"') {
      const end = scanValue(raw, i)
      out += raw.slice(i, end).replace(/[<>&\u2028\u2029]/g, (m) => `\\u${m.charCodeAt(0).toString(16).padStart(4, '0')}`)
      i = end - 1
    } else if (c !== ' ' && c !== '\t' && c !== '\n' && c !== '\r') {
      out += c
    }
  }
  return out
}

export function marshalRawObject(obj: RawObject): string {
  const keys = [...obj.keys()].sort(compareUtf8)
  return `{${keys.map((k) => `${goQuote(k)}:${goCompact(obj.get(k) as string)}`).join(',')}}`
}

/**
 * A config with new diff_ids, re-serialised exactly as containerd's converter does it: rootfs
 * re-marshalled, the Docker v1 dummy `Image` ids dropped from config and container_config.
 */
export function rewriteConfigDiffIds(config: Uint8Array, diffIds: ReadonlyMap<string, string>): Buffer {
  const obj = parseRawObject(Buffer.from(config).toString('utf8'))
  const rootfsRaw = obj.get('rootfs')
  const rootfs = rootfsRaw ? (JSON.parse(rootfsRaw) as { type?: string; diff_ids?: string[] | null }) : undefined
  if (!rootfs || rootfs.type !== 'layers') return Buffer.from(config)
  const ids = (rootfs.diff_ids ?? []).map((d) => diffIds.get(d) ?? d)
  obj.set('rootfs', `{"type":"layers","diff_ids":${ids.length > 0 || rootfs.diff_ids ? JSON.stringify(ids) : 'null'}}`)
  for (const k of ['config', 'container_config']) {
    const raw = obj.get(k)
    if (raw === undefined || raw.trim() === 'null') continue
    const inner = parseRawObject(raw)
    inner.delete('Image')
    obj.set(k, marshalRawObject(inner))
  }
  return Buffer.from(marshalRawObject(obj))
}
