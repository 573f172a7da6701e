import { request as httpRequest, Agent as HttpAgent, type IncomingMessage, type OutgoingHttpHeaders } from 'node:http'
import { request as httpsRequest, Agent as HttpsAgent } from 'node:https'
import type { RegistryTls } from './tls.js'

export interface HttpRequest {
  method: string
  url: URL
  headers?: OutgoingHttpHeaders
  /** Every body we send is bounded (a manifest, one upload chunk), so it can be sent again on a retry. */
  body?: Uint8Array
  signal?: AbortSignal
}

/**
 * One connection pool per registry, TLS settings fixed at creation. Bodies stream: the response
 * comes back as soon as its headers do, and the caller reads (or discards) it.
 */
export class HttpTransport {
  private readonly http = new HttpAgent({ keepAlive: true })
  private readonly https: HttpsAgent

  constructor(readonly tls: RegistryTls) {
    this.https = new HttpsAgent({
      keepAlive: true, rejectUnauthorized: tls.rejectUnauthorized,
      ...(tls.ca ? { ca: tls.ca } : {}), ...(tls.cert !== undefined && tls.key !== undefined ? { cert: tls.cert, key: tls.key } : {}),
    })
  }

  send(req: HttpRequest): Promise<IncomingMessage> {
    const secure = req.url.protocol === 'https:'
    const body = req.body
    return new Promise((resolve, reject) => {
      const r = (secure ? httpsRequest : httpRequest)(req.url, {
        method: req.method,
        agent: secure ? this.https : this.http,
        headers: { 'User-Agent': 'ipcr', ...req.headers, ...(body !== undefined ? { 'Content-Length': body.byteLength } : {}) },
        ...(req.signal ? { signal: req.signal } : {}),
      })
      r.once('response', resolve)
      r.once('error', reject)
      r.end(body)
    })
  }

  close(): void {
    this.http.destroy()
    this.https.destroy()
  }
}

/** Read a response body whole, refusing more than `max` bytes (error bodies, tokens, manifests). */
export async function readBody(res: IncomingMessage, max: number, tooLarge: () => Error): Promise<Buffer> {
  const parts: Buffer[] = []
  let seen = 0
  for await (const chunk of res as AsyncIterable<Buffer>) {
    seen += chunk.byteLength
    if (seen > max) { res.destroy(); throw tooLarge() }
    parts.push(chunk)
  }
  return Buffer.concat(parts)
}

/** Throw a response body away so its connection goes back to the pool. */
export function discard(res: IncomingMessage): void {
  res.resume()
}

/** The registry's own words for an error (distribution's `{"errors":[{"code","message"}]}`), short. */
export async function errorDetail(res: IncomingMessage): Promise<string> {
  const body = await readBody(res, 64 << 10, () => new Error('too large')).catch(() => Buffer.alloc(0))
  try {
    const parsed = JSON.parse(body.toString('utf8')) as { errors?: Array<{ code?: string; message?: string; detail?: unknown }> }
    const first = parsed.errors?.find((e) => e.code !== 'UNKNOWN') ?? parsed.errors?.[0]
    if (first) return [first.code, first.message].filter(Boolean).join(': ')
  } catch { /* not JSON */ }
  const text = body.toString('utf8').replace(/\s+/g, ' ').trim()
  return text.length > 200 ? `${text.slice(0, 200)}…` : text
}
