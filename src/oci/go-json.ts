/**
 * JSON exactly as Go's encoding/json writes it, so root CIDs match the Go tools byte for byte:
 * compact, keys in the order the caller built the object (struct order), `<`, `>`, `&`, U+2028 and
 * U+2029 escaped, other control characters as \u00xx, lone surrogates as U+FFFD.
 * Maps (annotations, labels) must be passed through sortedMap(), as Go sorts map keys.
 */
export type GoJsonValue = string | number | boolean | null | GoJsonValue[] | { [key: string]: GoJsonValue | undefined }

const hex = '0123456789abcdef'

export function goQuote(s: string): string {
  let out = '"'
  let start = 0
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i)
    let esc: string | undefined
    if (c < 0x20 || c === 0x22 || c === 0x5c || c === 0x3c || c === 0x3e || c === 0x26) {
      switch (c) {
        case 0x22: esc = '\\"'; break
        case 0x5c: esc = '\\\\'; break
        case 0x0a: esc = '\\n'; break
        case 0x0d: esc = '\\r'; break
        case 0x09: esc = '\\t'; break
        case 0x08: esc = '\\b'; break
        case 0x0c: esc = '\\f'; break
        default: esc = `\\u00${hex[c >> 4]}${hex[c & 0xf]}`
      }
    } else if (c === 0x2028 || c === 0x2029) {
      esc = `\\u202${hex[c & 0xf]}`
    } else if (c >= 0xd800 && c <= 0xdfff) {
      const next = s.charCodeAt(i + 1)
      if (c <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) { i++; continue } // a valid pair passes through
      esc = '\ufffd' // Go replaces invalid UTF-8 (here: a lone surrogate) with U+FFFD
    }
    if (esc !== undefined) {
      out += s.slice(start, i) + esc
      start = i + 1
    }
  }
  return out + s.slice(start) + '"'
}

/** Marshal; `undefined` members are left out (Go's omitempty is decided by the caller building the object). */
export function goMarshal(value: GoJsonValue): string {
  if (value === null) return 'null'
  switch (typeof value) {
    case 'string': return goQuote(value)
    case 'boolean': return value ? 'true' : 'false'
    case 'number':
      if (!Number.isFinite(value)) throw new TypeError(`cannot marshal ${value} as JSON`)
      return String(value)
  }
  if (Array.isArray(value)) return `[${value.map(goMarshal).join(',')}]`
  const parts: string[] = []
  for (const [k, v] of Object.entries(value)) {
    if (v !== undefined) parts.push(`${goQuote(k)}:${goMarshal(v)}`)
  }
  return `{${parts.join(',')}}`
}

/** A copy of a string map with keys in Go's sorted order (byte order of UTF-8, as sort.Strings). */
export function sortedMap(m: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {}
  for (const k of Object.keys(m).sort(compareUtf8)) out[k] = m[k] as string
  return out
}

export function compareUtf8(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'))
}

/** Go's `omitempty` for maps and slices: absent when empty. */
export function nonEmpty<T extends object>(v: T | undefined): T | undefined {
  if (v === undefined) return undefined
  return (Array.isArray(v) ? v.length : Object.keys(v).length) > 0 ? v : undefined
}
