import type { IncomingHttpHeaders } from 'node:http'
import type { ResponseBody } from '../util/http-send.js'

/** A request as a handler sees it: a read (GET or HEAD), its URL and the route's captured parts. */
export interface RegistryRequest {
  method: 'GET' | 'HEAD'
  url: URL
  params: Readonly<Record<string, string>>
  headers: IncomingHttpHeaders
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

/** A JSON reply (tags list, referrers, /v2/). */
export function jsonReply(value: unknown, headers: Record<string, string | number> = {}, contentType = 'application/json'): Reply {
  const body = Buffer.from(JSON.stringify(value))
  return { status: 200, headers: { 'content-type': contentType, 'content-length': body.byteLength, ...headers }, body }
}
