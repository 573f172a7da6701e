/**
 * The kit writes fixture JSON with the project's own Go encoding/json rules (src/oci/go-json.ts), so
 * a Go tool re-marshalling a fixture gets the same bytes back. Callers build objects in Go
 * struct-field order and use sortedRecord() for Go maps.
 */
import { compareUtf8, goMarshal, sortedMap, type GoJsonValue } from '../oci/go-json.js'

export function goJson(value: unknown): string {
  return goMarshal(value as GoJsonValue)
}

export function goJsonBytes(value: unknown): Buffer {
  return Buffer.from(goJson(value), 'utf8')
}

/** A copy of a string map with keys in byte order, as Go marshals map[string]string. */
export const sortedRecord = sortedMap

/** Byte-wise (not locale) ordering of strings, used for every sort whose result lands on disk. */
export const byteOrder = compareUtf8
