import { RegistryError } from './errors.js'

/** Bytes [start, end) of a blob. */
export interface ByteSpan { start: number; end: number }

/**
 * The one span a `Range` header asks of a blob of `size` bytes (RFC 9110 §14): `bytes=a-b`,
 * `bytes=a-` or the suffix `bytes=-n`, with `b` clipped to the end. Undefined means "send it all":
 * no header, a unit other than bytes, a malformed value, or several spans (a server may ignore a
 * Range it does not serve, and registries' clients ask for one span). A span that starts at or
 * past the end is RANGE_INVALID (416), with the `Content-Range: bytes * /size` the RFC asks for.
 */
export function requestedSpan(header: string | undefined, size: number): ByteSpan | undefined {
  if (header === undefined) return undefined
  const m = /^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$/i.exec(header)
  if (!m || (m[1] === '' && m[2] === '')) return undefined
  const unsatisfiable = (): never => {
    throw new RegistryError('RANGE_INVALID', `range ${header.trim()} is outside the blob's ${size} bytes`, { 'content-range': `bytes */${size}` })
  }
  if (m[1] === '') {
    const suffix = Number(m[2])
    if (suffix === 0 || size === 0) unsatisfiable()
    return { start: Math.max(0, size - suffix), end: size }
  }
  const start = Number(m[1])
  if (m[2] !== '' && Number(m[2]) < start) return undefined // syntactically invalid: ignored, as the RFC says
  if (start >= size) unsatisfiable()
  const last = m[2] === '' ? size - 1 : Number(m[2])
  return { start, end: Math.min(last, size - 1) + 1 }
}
