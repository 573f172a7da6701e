import type { IncomingHttpHeaders } from 'node:http'
import type { ResponseBody } from '../util/http-send.js'

/** The methods the distribution API uses. */
export type Method = 'GET' | 'HEAD' | 'PUT' | 'POST' | 'PATCH' | 'DELETE'

/** A request as a handler sees it: its method, URL, the route's captured parts, headers and body. */
export interface RegistryRequest {
  method: Method
  url: URL
  params: Readonly<Record<string, string>>
  headers: IncomingHttpHeaders
  /** The request body as it arrives (empty for reads). */
  body: AsyncIterable<Uint8Array>
}

/** What a handler answers; the server writes it (and drops the body of a HEAD). Errors are thrown as RegistryError. */
export interface Reply {
  status: number
  headers: Record<string, string | number>
  body?: ResponseBody
}

export type Handler = (req: RegistryRequest) => Promise<Reply>

/** Headers every OCI content response carries. */
export function contentHeaders(digest: string, mediaType: string, length: number): Record<string, string | number> {
  return {
    'content-type': mediaType,
    'content-length': length,
    'docker-content-digest': digest,
    etag: `"${digest}"`,
    'x-content-type-options': 'nosniff',
  }
}

/** An empty reply (201, 202, 204) with these headers. */
export function emptyReply(status: number, headers: Record<string, string | number> = {}): Reply {
  return { status, headers: { 'content-length': 0, ...headers } }
}

/** The first value of a header. */
export function header(req: RegistryRequest, name: string): string | undefined {
  const v = req.headers[name]
  return Array.isArray(v) ? v[0] : v
}

/** A JSON reply (tags list, referrers, /v2/). */
export function jsonReply(value: unknown, headers: Record<string, string | number> = {}, contentType = 'application/json'): Reply {
  const body = Buffer.from(JSON.stringify(value))
  return { status: 200, headers: { 'content-type': contentType, 'content-length': body.byteLength, ...headers }, body }
}
