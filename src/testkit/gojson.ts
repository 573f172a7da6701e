/**
 * JSON the way Go's encoding/json writes it (wire-format.md §1): compact, no trailing newline,
 * `<` `>` `&` U+2028 U+2029 escaped. Key order is the caller's insertion order, so callers build
 * objects in Go struct-field order and use sortedRecord() for Go maps (annotations, labels).
 * Writing fixtures this way means a Go tool re-marshalling them gets the same bytes back.
 */
export function goJson(value: unknown): string {
  return JSON.stringify(value)
    .replace(/</g, '\\u003c')
    .replace(/>/g, '\\u003e')
    .replace(/&/g, '\\u0026')
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029')
}

export function goJsonBytes(value: unknown): Buffer {
  return Buffer.from(goJson(value), 'utf8')
}

/** A copy of a string map with keys in byte order, as Go marshals map[string]string. */
export function sortedRecord(rec: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {}
  for (const k of Object.keys(rec).sort(byteOrder)) out[k] = rec[k] as string
  return out
}

/** Byte-wise (not locale) ordering of strings, used for every sort whose result lands on disk. */
export function byteOrder(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'))
}
