import type { IncomingMessage } from 'node:http'
import { BlockList, isIPv6 } from 'node:net'
import type { TLSSocket } from 'node:tls'
import { UsageError } from '../errors.js'
import { RegistryError } from './errors.js'
import { HtpasswdUsers } from './htpasswd-users.js'

export interface WriteGateOptions {
  /** --allow-push: without it every write is refused, whatever else is set. */
  allowPush: boolean
  /** --htpasswd FILE: Basic credentials checked against its bcrypt entries. */
  htpasswdFile?: string
  /** Whether the TLS server asks for client certificates verified against --client-ca. */
  clientCa?: boolean
  /** The host the server listens on, as --listen gave it. */
  listenHost: string
  /** Whether the server speaks TLS (--tls-cert/--tls-key). */
  tls: boolean
  /** The realm of the Basic challenge (default "ipcr"). */
  realm?: string
  /** Lines for the operator: the htpasswd file reloaded, or kept after a failed reload. */
  notify?: (message: string) => void
  /** The clock of the credential cache and of the reload check (tests move it). */
  now?: () => number
}

/**
 * Who may write. The server asks it before any handler runs, so a refused request costs no IPFS
 * work. Reads other than `GET /v2/` never come here: reads may stay open (the issue says so, and
 * containerd, as a mirror's client, pulls anonymously).
 */
export interface WriteGate {
  /** One line for the start-up log: who may push. */
  readonly summary: string
  /** Any request that is not GET or HEAD: throws RegistryError UNSUPPORTED, UNAUTHORIZED or DENIED. */
  authorizeWrite(req: IncomingMessage): Promise<void>
  /**
   * `GET /v2/`, the ping clients send first: with --htpasswd, no credentials get the Basic
   * challenge, as from distribution, so crane and skopeo learn the scheme before they push; wrong
   * ones get 401 too. Anything else passes.
   */
  authorizeBase(req: IncomingMessage): Promise<void>
}

const loopback = new BlockList()
loopback.addSubnet('127.0.0.0', 8, 'ipv4')
loopback.addAddress('::1', 'ipv6')

/** 127.0.0.0/8, ::1 (also written long, or IPv4-mapped) and localhost. A host name is not resolved: anything else counts as beyond. */
export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[(.*)\]$/, '$1').toLowerCase()
  if (h === 'localhost') return true
  try {
    return loopback.check(h, isIPv6(h) ? 'ipv6' : 'ipv4')
  } catch {
    return false // not an address at all: a host name
  }
}

/**
 * The gate for the flags given, or a one-line UsageError naming the flag, before anything listens:
 * --allow-push beyond loopback with neither --htpasswd nor --client-ca (anyone could push),
 * --client-ca without TLS, an htpasswd file that is unreadable or holds a line that is not a bcrypt
 * entry. --htpasswd or --client-ca without --allow-push is accepted, and the summary says they guard
 * nothing: refusing would make an admin drop them to turn pushes off and add them back later.
 */
export async function loadWriteGate(o: WriteGateOptions): Promise<WriteGate> {
  if (o.clientCa && !o.tls) throw new UsageError('--client-ca needs --tls-cert and --tls-key: client certificates are checked in the TLS handshake')
  const beyond = !isLoopbackHost(o.listenHost)
  if (o.allowPush && beyond && o.htpasswdFile === undefined && !o.clientCa) {
    throw new UsageError(`--allow-push while listening on ${o.listenHost}, beyond loopback, needs --htpasswd FILE or --client-ca FILE: anyone who reaches the port could push`)
  }
  // Loaded even without --allow-push, so a bad file is found now rather than the day pushes are turned on.
  const users = o.htpasswdFile === undefined ? undefined : await HtpasswdUsers.load(o.htpasswdFile, { ...(o.notify ? { notify: o.notify } : {}), ...(o.now ? { now: o.now } : {}) })
  const summary = summarize(o, users?.size ?? 0, beyond)
  if (!o.allowPush) return { summary, authorizeWrite: refuseAll, authorizeBase: async () => {} }
  const realm = (o.realm ?? 'ipcr').replace(/[\\"]/g, '\\$&')
  const challenge = { 'www-authenticate': `Basic realm="${realm}"` }
  const certified = (req: IncomingMessage): boolean => o.clientCa === true && (req.socket as Partial<TLSSocket>).authorized === true
  /** Pass with Basic credentials of a user of the file; else 401, with the challenge. */
  const requireUser = async (req: IncomingMessage, users: HtpasswdUsers): Promise<void> => {
    const sent = req.headers.authorization
    const creds = basicCredentials(sent)
    if (creds !== undefined && await users.verify(creds.user, creds.password)) return
    throw new RegistryError('UNAUTHORIZED', sent === undefined
      ? `pushing to this registry needs Basic credentials of a user of its --htpasswd file${o.clientCa ? ', or a TLS client certificate' : ''}`
      : 'wrong user name or password (this registry takes Basic credentials of a user of its --htpasswd file)', challenge)
  }
  return {
    summary,
    authorizeWrite: async (req) => {
      if (users === undefined && !o.clientCa) return // loopback only (checked above)
      if (certified(req)) return
      // No challenge to offer (a certificate is not asked for in a header), so not 401 but 403.
      if (users === undefined) throw new RegistryError('DENIED', 'pushing to this registry needs a TLS client certificate signed by its --client-ca')
      await requireUser(req, users)
    },
    authorizeBase: async (req) => {
      // A client whose certificate lets it push needs no challenge: it has nothing to answer with.
      if (users === undefined || certified(req)) return
      await requireUser(req, users)
    },
  }
}

async function refuseAll(): Promise<never> {
  throw new RegistryError('UNSUPPORTED', 'pushes are turned off: start the server with --allow-push to accept them')
}

/** `Authorization: Basic base64(user:password)`, as RFC 7617 (and Go's Request.BasicAuth) read it. */
export function basicCredentials(header: string | undefined): { user: string; password: string } | undefined {
  const m = /^basic +([A-Za-z0-9+/]+=*) *$/i.exec(header ?? '')
  if (m?.[1] === undefined) return undefined
  const text = Buffer.from(m[1], 'base64').toString('utf8')
  const colon = text.indexOf(':')
  return colon < 0 ? undefined : { user: text.slice(0, colon), password: text.slice(colon + 1) }
}

function summarize(o: WriteGateOptions, users: number, beyond: boolean): string {
  const guards = [o.htpasswdFile !== undefined ? '--htpasswd' : '', o.clientCa ? '--client-ca' : ''].filter(Boolean).join(' and ')
  if (!o.allowPush) return `pushes: refused (start with --allow-push to accept them)${guards ? `; ${guards} guard nothing until then` : ''}`
  const who = [
    o.htpasswdFile !== undefined ? `a user of ${o.htpasswdFile} (${users} now)` : '',
    o.clientCa ? 'a TLS client certificate signed by --client-ca' : '',
  ].filter(Boolean).join(' or ')
  if (!who) return 'pushes: open to every client (listening on loopback only)'
  const clear = o.htpasswdFile !== undefined && beyond && !o.tls ? '; passwords cross the network in the clear: add --tls-cert/--tls-key' : ''
  return `pushes: accepted from ${who}${clear}`
}
