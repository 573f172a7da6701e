import http from 'node:http'
import https from 'node:https'
import type { AddressInfo } from 'node:net'
import { UsageError } from '../errors.js'
import { sendBody, type ResponseBody } from '../util/http-send.js'
import type { AccessEntry } from './access-log.js'
import { RegistryError } from './errors.js'
import type { Method, Reply } from './handler.js'
import { baseHandler } from './handlers/base.js'
import { blobDeleteHandler, blobsHandler } from './handlers/blobs.js'
import { manifestDeleteHandler, manifestPutHandler, manifestsHandler } from './handlers/manifests.js'
import { referrersHandler } from './handlers/referrers.js'
import { tagsHandler } from './handlers/tags.js'
import { uploadHandlers } from './handlers/uploads.js'
import type { RegistryMetrics } from './metrics.js'
import type { BlobKeeper, BlobReader, BlobStatter, BlobUploads, HealthProbe, ManifestFinder, ManifestWriter, ReferrerLister, TagLister, WriteAccess } from './roles.js'
import { allowed, matchRoute, routeTable, type Methods, type Route, type RouteName } from './routes.js'

/** The roles the write side needs; absent, the registry is read-only (every write is UNSUPPORTED). */
export interface RegistryWrites {
  uploads: BlobUploads
  blobs: BlobKeeper
  manifests: ManifestWriter
  /** DELETE of manifests, tags and blobs (--allow-delete). */
  allowDelete: boolean
}

/** The roles the server's handlers need, and where it reports. */
export interface RegistryDeps {
  manifests: ManifestFinder
  blobs: BlobStatter
  reader: BlobReader
  tags: TagLister
  referrers: ReferrerLister
  health: HealthProbe
  metrics: RegistryMetrics
  writes?: RegistryWrites
  /** Who may write (and what /v2/ asks of clients); absent: no one is asked. */
  gate?: WriteAccess
  onRequest?: (entry: AccessEntry) => void
}

/** The request listener: route, run the handler, write its reply or its error, count and log. */
export function registryListener(deps: RegistryDeps): http.RequestListener {
  const routes = routeTable(handlers(deps))
  return (req, res) => {
    // respond() settles every failure itself; this catch only keeps a bug from ending the process.
    respond(routes, deps, req, res).catch(() => res.destroy())
  }
}

function handlers(deps: RegistryDeps): Record<Exclude<RouteName, 'none'>, Methods> {
  const w = deps.writes
  const deletes = w?.allowDelete === true ? w : undefined
  const uploads = w ? uploadHandlers(w.uploads, w.blobs) : undefined
  return {
    base: { GET: baseHandler() },
    manifest: {
      GET: manifestsHandler(deps.manifests),
      ...(w ? { PUT: manifestPutHandler(w.manifests) } : {}),
      ...(deletes ? { DELETE: manifestDeleteHandler(deletes.manifests) } : {}),
    },
    blob: { GET: blobsHandler(deps.blobs, deps.reader), ...(deletes ? { DELETE: blobDeleteHandler(deletes.blobs) } : {}) },
    upload: uploads ?? {},
    tags: { GET: tagsHandler(deps.tags) },
    referrers: { GET: referrersHandler(deps.referrers) },
    metrics: {
      GET: async () => {
        const { contentType, text } = await deps.metrics.render()
        return { status: 200, headers: { 'content-type': contentType }, body: Buffer.from(text) }
      },
    },
    healthz: {
      GET: async () => {
        const ok = await deps.health.healthy()
        const body = Buffer.from(ok ? 'ok\n' : 'the IPFS backend does not answer\n')
        return { status: ok ? 200 : 503, headers: { 'content-type': 'text/plain; charset=utf-8', 'content-length': body.byteLength }, body }
      },
    },
  }
}

async function respond(routes: Route[], deps: RegistryDeps, req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
  const started = performance.now()
  const url = new URL(req.url ?? '/', 'http://registry')
  const matched = matchRoute(routes, url.pathname)
  const route = matched?.route.name ?? 'none'
  res.setHeader('docker-distribution-api-version', 'registry/2.0')
  let bytes = 0
  let outcome: AccessEntry['outcome'] = 'sent'
  let code: string | undefined
  let error: string | undefined
  const counted = (body: ResponseBody): ResponseBody => {
    if (body === undefined || body instanceof Uint8Array) { bytes = body?.byteLength ?? 0; return body }
    return (async function* () { for await (const chunk of body) { bytes += chunk.byteLength; yield chunk } })()
  }
  try {
    const reply = await handle(matched, deps, req, url, () => {
      // The client held its body back until told to go on: only now, past the gate, is it asked for.
      if (/^100-continue$/i.test(req.headers.expect ?? '')) res.writeContinue()
    })
    res.writeHead(reply.status, reply.headers)
    outcome = await sendBody(res, counted(req.method === 'HEAD' ? undefined : reply.body))
  } catch (err) {
    error = err instanceof Error ? err.message : String(err)
    if (res.headersSent) {
      outcome = 'cut' // sendBody cut the connection: the status is out, and a short body must not pass for a whole one
    } else if (!res.destroyed) {
      const e = err instanceof RegistryError ? err : new RegistryError('UNKNOWN', 'the registry could not serve this (its log says why)')
      code = e.code
      if (err instanceof RegistryError) error = typeof err.detail === 'string' ? err.detail : undefined
      if (err instanceof RegistryError && err.cause instanceof Error) error = `${error ?? ''} (${err.cause.message})`
      const body = Buffer.from(e.body())
      const allow = e.code === 'UNSUPPORTED' && matched ? { allow: allowed(matched.route) } : {}
      res.writeHead(e.status, { 'content-type': 'application/json', 'content-length': body.byteLength, ...e.headers, ...allow })
      outcome = await sendBody(res, counted(req.method === 'HEAD' ? undefined : body))
    }
  }
  deps.metrics.request(route, req.method ?? '?', res.statusCode)
  deps.metrics.served(route, bytes)
  deps.onRequest?.({
    time: new Date().toISOString(), remote: req.socket.remoteAddress ?? '?', method: req.method ?? '?', url: req.url ?? '', route,
    status: res.statusCode, bytes, ms: Math.round(performance.now() - started), outcome,
    ...(code !== undefined ? { code } : {}), ...(error !== undefined ? { error } : {}),
  })
}

const methods = new Set<string>(['GET', 'HEAD', 'PUT', 'POST', 'PATCH', 'DELETE'])

/**
 * Route and method, then who may write, then the handler. Authentication comes before any byte of
 * a write's body is read or any IPFS work is done: a refused push costs nothing.
 */
async function handle(matched: ReturnType<typeof matchRoute>, deps: RegistryDeps, req: http.IncomingMessage, url: URL, proceed: () => void): Promise<Reply> {
  if (!matched) throw new RegistryError('NAME_UNKNOWN', `${url.pathname} is no endpoint of this registry (it serves the OCI distribution API under /v2/)`)
  const method = (req.method ?? '') as Method
  if (!methods.has(method)) throw new RegistryError('UNSUPPORTED', `${req.method ?? ''} is not a method of the distribution API`)
  const write = method !== 'GET' && method !== 'HEAD'
  if (write) await deps.gate?.authorizeWrite(req)
  else if (matched.route.name === 'base') await deps.gate?.authorizeBase(req)
  const handler = matched.route.methods[method === 'HEAD' ? 'GET' : method]
  if (handler === undefined) {
    throw new RegistryError('UNSUPPORTED', !write ? `${method} is not served here`
      : !deps.writes ? `${method} is not supported: this registry is read-only (start it with --allow-push to accept pushes)`
        : method === 'DELETE' ? 'deletes are off (start the registry with --allow-delete)' : `${method} is not served here`)
  }
  proceed()
  const route = matched.route.name
  async function* body(): AsyncGenerator<Uint8Array> {
    for await (const chunk of req as AsyncIterable<Buffer>) {
      deps.metrics.took(route, chunk.byteLength)
      yield chunk
    }
  }
  return handler({ method, url, params: matched.params, headers: req.headers, body: body() })
}

export interface ListenOptions {
  host: string
  port: number
  /** clientCa: ask every client for a certificate and verify it against these CAs, but serve one without (reads stay open). */
  tls?: { cert: Buffer; key: Buffer; clientCa?: Buffer }
  /** How long close() waits for requests in flight before cutting them (default 30 s). */
  drainMs?: number
}

/** Start serving; resolves once listening, with the URL clients use and a close() that drains requests in flight. */
export async function serveRegistry(deps: RegistryDeps, o: ListenOptions): Promise<{ url: string; close(): Promise<void> }> {
  const listener = registryListener(deps)
  let draining = false
  const wrapped: http.RequestListener = (req, res) => {
    // A keep-alive connection would outlive the drain: every response from now on closes its connection.
    if (draining) res.setHeader('connection', 'close')
    res.once('close', () => { if (draining) server.closeIdleConnections() })
    listener(req, res)
  }
  const clientCerts = o.tls?.clientCa ? { ca: o.tls.clientCa, requestCert: true, rejectUnauthorized: false } : {}
  const server: http.Server = o.tls ? https.createServer({ cert: o.tls.cert, key: o.tls.key, ...clientCerts, keepAliveTimeout: 30_000 }, wrapped) : http.createServer({ keepAliveTimeout: 30_000 }, wrapped)
  // Node answers `Expect: 100-continue` itself unless told otherwise, and a client then sends a whole
  // blob that the gate may refuse: here the request goes through the gate first (respond's proceed).
  server.on('checkContinue', wrapped)
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => reject(new UsageError(`cannot listen on ${o.host}:${o.port}: ${err.message}`)))
    server.listen(o.port, o.host, () => resolve())
  })
  const addr = server.address() as AddressInfo
  const host = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address
  return {
    url: `${o.tls ? 'https' : 'http'}://${host}:${addr.port}`,
    close: () => new Promise<void>((resolve) => {
      draining = true
      const cut = setTimeout(() => server.closeAllConnections(), o.drainMs ?? 30_000)
      server.close(() => { clearTimeout(cut); resolve() })
      server.closeIdleConnections()
    }),
  }
}
