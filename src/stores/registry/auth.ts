import { UnavailableError } from '../../errors.js'
import { parseChallenges, type Challenge } from './challenge.js'
import type { Credentials } from './credentials.js'
import { RegistryAuthError } from './errors.js'
import { discard, readBody, type HttpTransport } from './http.js'
import { isLoopback } from './name.js'

interface CachedToken { value: string; expiresAt: number }

/** Tokens live at least this long when the issuer does not say (the distribution token spec's default). */
const defaultTokenLifetimeS = 60

/**
 * The `Authorization` header for a registry: nothing until the registry asks (a 401 with a
 * challenge), then Basic with the credentials, or a Bearer token fetched from the challenge's
 * realm for the scopes a request needs (anonymously when there are no credentials). Tokens are
 * cached per scope set and fetched again when they expire or the registry refuses one.
 */
export class Authorizer {
  private challenge: Challenge | undefined
  private readonly tokens = new Map<string, CachedToken>()

  constructor(
    private readonly registry: string,
    private readonly creds: Credentials | undefined,
    private readonly transport: HttpTransport,
    private readonly signal?: AbortSignal,
  ) {}

  /** The header to send now, or undefined when the registry has not asked for any. */
  async header(scopes: readonly string[]): Promise<string | undefined> {
    const c = this.challenge
    if (c === undefined) return undefined
    if (c.scheme === 'basic') {
      if (this.creds === undefined) throw this.needsCredentials()
      return `Basic ${Buffer.from(`${this.creds.username}:${this.creds.password}`).toString('base64')}`
    }
    const key = [...scopes].sort().join(' ')
    const cached = this.tokens.get(key)
    if (cached && cached.expiresAt > Date.now()) return `Bearer ${cached.value}`
    const token = await this.fetchToken(c, scopes)
    this.tokens.set(key, token)
    return `Bearer ${token.value}`
  }

  /**
   * The registry answered 401 to a request sent with `sent` (maybe none). Learn its challenge and
   * say whether asking again can help: yes when we sent nothing or a token that may have expired,
   * no when the credentials themselves were refused (then throw what the user must fix).
   */
  unauthorized(wwwAuthenticate: string | undefined, sent: string | undefined, scopes: readonly string[]): void {
    const challenges = parseChallenges(wwwAuthenticate ?? '')
    const usable = challenges.find((c) => c.scheme === 'bearer' && c.params.realm) ?? challenges.find((c) => c.scheme === 'basic')
    if (usable === undefined) throw new RegistryAuthError(`authentication to ${this.registry} failed: it answered 401 without a Bearer or Basic challenge we can answer`)
    const wasBasic = sent?.startsWith('Basic ') === true
    this.challenge = usable
    this.tokens.delete([...scopes].sort().join(' '))
    if (sent !== undefined && (wasBasic || usable.scheme === 'basic')) throw this.refused()
  }

  /** After a retry with fresh authorization still got 401: nothing more to try. */
  refused(): RegistryAuthError {
    if (this.creds === undefined) return this.needsCredentials()
    return new RegistryAuthError(`authentication to ${this.registry} failed: the registry refused the credentials of "${this.creds.username}" (from ${this.creds.source})`)
  }

  private needsCredentials(): RegistryAuthError {
    return new RegistryAuthError(`authentication to ${this.registry} failed: it requires credentials (give --creds USER:PASSWORD or log in to ${this.registry} in an auth file)`)
  }

  private async fetchToken(c: Challenge, scopes: readonly string[]): Promise<CachedToken> {
    let realm: URL
    try {
      realm = new URL(c.params.realm ?? '')
    } catch {
      throw new RegistryAuthError(`authentication to ${this.registry} failed: its token realm "${c.params.realm}" is not a URL`)
    }
    // Credentials never travel in clear text off this machine.
    if (realm.protocol !== 'https:' && !(realm.protocol === 'http:' && isLoopback(realm.host))) {
      throw new RegistryAuthError(`authentication to ${this.registry} failed: its token realm ${realm.origin} is not HTTPS`)
    }
    if (c.params.service !== undefined) realm.searchParams.set('service', c.params.service)
    for (const scope of scopes) realm.searchParams.append('scope', scope)
    const headers: Record<string, string> = {}
    if (this.creds) headers.Authorization = `Basic ${Buffer.from(`${this.creds.username}:${this.creds.password}`).toString('base64')}`
    let res
    try {
      res = await this.transport.send({ method: 'GET', url: realm, headers, ...(this.signal ? { signal: this.signal } : {}) })
    } catch (err) {
      throw new UnavailableError(`authentication to ${this.registry} failed: cannot reach its token service ${realm.origin} (${(err as Error).message})`, { cause: err })
    }
    if (res.statusCode === 401 || res.statusCode === 403) {
      discard(res)
      throw this.creds === undefined ? this.needsCredentials()
        : new RegistryAuthError(`authentication to ${this.registry} failed: its token service ${realm.origin} refused the credentials of "${this.creds.username}" (from ${this.creds.source})`)
    }
    if (res.statusCode !== 200) {
      discard(res)
      throw new UnavailableError(`authentication to ${this.registry} failed: its token service ${realm.origin} answered ${res.statusCode}`)
    }
    const body = await readBody(res, 1 << 20, () => new UnavailableError(`authentication to ${this.registry} failed: its token service sent over 1 MiB`))
    let parsed: { token?: unknown; access_token?: unknown; expires_in?: unknown }
    try {
      parsed = JSON.parse(body.toString('utf8')) as typeof parsed
    } catch {
      throw new UnavailableError(`authentication to ${this.registry} failed: its token service ${realm.origin} did not answer JSON`)
    }
    // The spec names it `token`; OAuth2-style servers send `access_token`.
    const value = typeof parsed.token === 'string' && parsed.token !== '' ? parsed.token : parsed.access_token
    if (typeof value !== 'string' || value === '') throw new UnavailableError(`authentication to ${this.registry} failed: its token service ${realm.origin} sent no token`)
    const lifetime = typeof parsed.expires_in === 'number' && parsed.expires_in > 0 ? parsed.expires_in : defaultTokenLifetimeS
    // Renew a little early so a token does not expire between our check and the registry's.
    return { value, expiresAt: Date.now() + Math.max(1, lifetime - 10) * 1000 }
  }
}
