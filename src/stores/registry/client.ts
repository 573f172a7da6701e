import type { IncomingMessage, OutgoingHttpHeaders } from 'node:http'
import { IpcrError, NotFoundError, UnavailableError } from '../../errors.js'
import { Authorizer } from './auth.js'
import type { Credentials } from './credentials.js'
import { RegistryAuthError, RegistryTrustError } from './errors.js'
import { discard, errorDetail, HttpTransport } from './http.js'
import { isLoopback } from './name.js'
import { defaultRetryPolicy, isRetryableError, isRetryableStatus, parseRetryAfter, retryDelay, sleep, type RetryPolicy } from './retry.js'
import { isPlainHttpAnswer, isUntrustedCertificate, type RegistryTls } from './tls.js'

export interface ClientOptions {
  creds?: Credentials | undefined
  tls: RegistryTls
  retry?: RetryPolicy
  signal?: AbortSignal | undefined
}

export interface RequestOptions {
  headers?: OutgoingHttpHeaders
  body?: Uint8Array
  /** Token scopes the request needs, e.g. `repository:app:pull`. */
  scopes: readonly string[]
  /** What we were doing, for messages: `reading manifest 127.0.0.1:5000/app:1`. */
  what: string
}

const maxRedirects = 5

/**
 * HTTP to one registry (OCI distribution-spec): picks the scheme, authenticates, retries what
 * may succeed later and turns transport failures into one-line errors naming the registry.
 * Statuses other than 401 and the retryable ones come back to the caller, which knows what
 * a 404 means for its request.
 */
export class RegistryClient {
  private readonly transport: HttpTransport
  private readonly auth: Authorizer
  private readonly retry: RetryPolicy
  /**
   * HTTPS first, always. Plain HTTP only when the registry is on loopback (or TLS verification is
   * off, skopeo's --tls-verify=false) and it answers the TLS hello in plain text. containerd
   * decides by host alone (localhost means HTTP), but one loopback port may well serve TLS (a test
   * registry, a port-forward), and falling back only on a plain-text answer never downgrades a
   * TLS server, not even one whose certificate we refuse.
   */
  private scheme: 'https:' | 'http:' = 'https:'

  constructor(readonly registry: string, readonly endpoint: string, private readonly o: ClientOptions) {
    this.transport = new HttpTransport(o.tls)
    this.auth = new Authorizer(registry, o.creds, this.transport, o.signal)
    this.retry = o.retry ?? defaultRetryPolicy
  }

  /** The URL of an API path (`/v2/...`) or of a Location header, which may be relative. */
  url(pathOrLocation: string): URL {
    return new URL(pathOrLocation, `${this.scheme}//${this.endpoint}`)
  }

  async request(method: string, pathOrUrl: string | URL, o: RequestOptions): Promise<IncomingMessage> {
    let url = typeof pathOrUrl === 'string' ? this.url(pathOrUrl) : pathOrUrl
    let reauthorized = false
    for (let attempt = 1; ; attempt++) {
      const authorization = await this.auth.header(o.scopes)
      let res: IncomingMessage
      try {
        res = await this.follow(method, url, { ...o.headers, ...(authorization ? { Authorization: authorization } : {}) }, o.body)
      } catch (err) {
        if (err instanceof IpcrError) throw err
        if (isUntrustedCertificate(err)) {
          throw new RegistryTrustError(`${o.what}: the TLS certificate of ${this.registry} is not trusted (${(err as NodeJS.ErrnoException).code}); put its CA certificate in ${this.o.tls.advisedDir}/ca.crt, or use --tls-verify=false`, { cause: err })
        }
        if (url.protocol === 'https:' && isPlainHttpAnswer(err) && (isLoopback(this.registry) || !this.o.tls.rejectUnauthorized)) {
          this.scheme = 'http:'
          url = new URL(url.href.replace(/^https:/, 'http:'))
          attempt-- // finding the scheme is not a failed try
          continue
        }
        const delay = isRetryableError(err) ? retryDelay(attempt, this.retry) : undefined
        if (delay === undefined) {
          const code = (err as NodeJS.ErrnoException).code ?? (err as Error).message
          throw new UnavailableError(`${o.what}: cannot reach ${this.registry} (${code}${attempt > 1 ? ` after ${attempt} tries` : ''})`, { cause: err })
        }
        await sleep(delay, this.o.signal)
        continue
      }
      if (res.statusCode === 401) {
        discard(res)
        if (reauthorized) throw this.auth.refused()
        this.auth.unauthorized(res.headers['www-authenticate'], authorization, o.scopes)
        reauthorized = true
        attempt--
        continue
      }
      if (isRetryableStatus(res.statusCode ?? 0)) {
        const delay = retryDelay(attempt, this.retry, parseRetryAfter(res.headers['retry-after']))
        if (delay !== undefined) {
          discard(res)
          await sleep(delay, this.o.signal)
          continue
        }
        throw await this.failure(res, `${o.what} (after ${attempt} tries)`)
      }
      return res
    }
  }

  /** Send, following redirects (blob storage often lives elsewhere); credentials never follow to another origin. */
  private async follow(method: string, start: URL, headers: OutgoingHttpHeaders, body: Uint8Array | undefined): Promise<IncomingMessage> {
    let url = start
    let h = headers
    for (let hop = 0; hop <= maxRedirects; hop++) {
      const res = await this.transport.send({ method, url, headers: h, ...(body ? { body } : {}), ...(this.o.signal ? { signal: this.o.signal } : {}) })
      const status = res.statusCode ?? 0
      const location = res.headers.location
      if (![301, 302, 303, 307, 308].includes(status) || location === undefined || !(method === 'GET' || method === 'HEAD')) return res
      discard(res)
      const next = new URL(location, url)
      if (next.origin !== url.origin) { const { Authorization: _dropped, ...rest } = h; h = rest }
      url = next
    }
    throw new UnavailableError(`${this.registry} redirected ${start.pathname} more than ${maxRedirects} times`)
  }

  /** The error for a response that means failure: 404 not found, 403 denied, anything else unavailable. */
  async failure(res: IncomingMessage, what: string): Promise<IpcrError> {
    const detail = await errorDetail(res)
    const suffix = detail ? ` (${detail})` : ''
    if (res.statusCode === 404) return new NotFoundError(`${what}: not found in ${this.registry}${suffix}`)
    if (res.statusCode === 403) return new RegistryAuthError(`${what}: ${this.registry} denied access${suffix}`)
    return new UnavailableError(`${what}: ${this.registry} answered ${res.statusCode}${suffix}`)
  }

  close(): void {
    this.transport.close()
  }
}
