import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import * as dagPb from '@ipld/dag-pb'
import { UnixFS } from 'ipfs-unixfs'
import * as raw from 'multiformats/codecs/raw'
import type { CID } from 'multiformats/cid'
import { NotFoundError, UsageError } from '../errors.js'
import { sendBody, type SendOutcome } from '../util/http-send.js'
import { carStream } from './car-stream.js'
import { cidText, parseCid } from './cid.js'

/** What the server reads: blocks (checked against their CIDs by the store) and, optionally, IPNS records. */
export interface ServedStore {
  get(cid: CID): Promise<Uint8Array>
  has(cid: CID): Promise<boolean>
}

export interface ServeOptions {
  /** `<dir>/<name>.record` files, served as `/ipns/<name>?format=ipns-record` (the embedded store's records). */
  ipnsDir?: string
  /** One line per request: method, URL, status, time, and what went wrong or that the client left. */
  onRequest?: (line: string) => void
}

const rawType = 'application/vnd.ipld.raw'
const carType = 'application/vnd.ipld.car'
const recordType = 'application/vnd.ipfs.ipns-record'

class HttpError extends Error {
  constructor(readonly status: number, message: string) { super(message) }
}

/**
 * A trustless gateway (the subset of the IPFS HTTP gateway spec that needs no trust in the server)
 * over a block store: `GET`/`HEAD /ipfs/<cid>?format=raw` is one block, `?format=car` the DAG under it
 * in depth-first order (`dag-scope` all|entity|block, `entity-bytes` ranges, `dups` y|n), also chosen
 * by `Accept`. Clients verify everything, so nothing here needs to be trusted, and nothing else is served.
 */
export function gatewayHandler(store: ServedStore, o: ServeOptions = {}): http.RequestListener {
  return (req, res) => {
    // respond() settles every error itself; this catch only keeps a bug in it from becoming an
    // unhandled rejection, which would end the process and every other client's transfer with it.
    respond(store, o, req, res).catch(() => res.destroy())
  }
}

async function respond(store: ServedStore, o: ServeOptions, req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
  const started = Date.now()
  let note = ''
  try {
    if ((await handle(store, o, req, res)) === 'gone') note = ' (the client went away)'
  } catch (err) {
    note = `: ${err instanceof Error ? err.message : String(err)}`
    if (res.headersSent) {
      // The status is out: the only way left to say "failed" is to cut the connection short (sendBody has).
      res.destroy()
    } else if (!res.destroyed) {
      const { status, message } = publicError(err)
      const body = `${message}\n`
      res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(body), 'x-content-type-options': 'nosniff' })
      await sendBody(res, req.method === 'HEAD' ? undefined : Buffer.from(body))
    }
  }
  o.onRequest?.(`${req.method ?? '?'} ${req.url ?? ''} ${res.statusCode} ${Date.now() - started}ms${note}`)
}

/**
 * What a remote client is told about a failure. HttpError messages are written for clients; any other
 * error's message is written for the local user and may name local paths (the embedded store's
 * directory, a file that failed to read), so a client learns only its kind.
 */
function publicError(err: unknown): { status: number; message: string } {
  if (err instanceof HttpError) return { status: err.status, message: err.message }
  if (err instanceof NotFoundError) return { status: 404, message: 'not found in this store' }
  if (err instanceof UsageError) return { status: 400, message: 'bad request' }
  return { status: 500, message: 'the gateway could not serve this (its log says why when it runs with --debug)' }
}

async function handle(store: ServedStore, o: ServeOptions, req: http.IncomingMessage, res: http.ServerResponse): Promise<SendOutcome> {
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.setHeader('allow', 'GET, HEAD')
    throw new HttpError(405, `${req.method ?? ''} is not supported: this gateway is read-only (GET, HEAD)`)
  }
  const url = new URL(req.url ?? '/', 'http://gateway')
  const head = req.method === 'HEAD'
  const m = /^\/(ipfs|ipns)\/([^/]+)\/?$/.exec(url.pathname)
  if (!m) throw new HttpError(404, 'only /ipfs/<cid> and /ipns/<name> are served')
  const accept = req.headers.accept ?? ''
  const format = url.searchParams.get('format') ?? (accept.includes(carType) ? 'car' : accept.includes(rawType) ? 'raw' : accept.includes(recordType) ? 'ipns-record' : undefined)

  if (m[1] === 'ipns') {
    if (format !== 'ipns-record' || !o.ipnsDir) throw new HttpError(406, 'only signed records are served for /ipns/ (?format=ipns-record)')
    const name = m[2] as string
    if (!/^[a-z0-9]+$/.test(name)) throw new HttpError(400, `"${name}" is not an IPNS key name`)
    const record = await readFile(join(o.ipnsDir, `${name}.record`)).catch(() => { throw new HttpError(404, `no IPNS record for ${name}`) })
    res.writeHead(200, { 'content-type': recordType, 'content-length': record.byteLength, 'cache-control': 'no-cache', 'x-content-type-options': 'nosniff', vary: 'Accept' })
    return sendBody(res, head ? undefined : record)
  }

  const cid = requestedCid(m[2] as string)
  const common = {
    'cache-control': 'public, max-age=29030400, immutable',
    'x-content-type-options': 'nosniff',
    'x-ipfs-path': `/ipfs/${m[2]}`,
    'x-ipfs-roots': cidText(cid),
    vary: 'Accept',
  }
  if (format === 'raw') {
    const block = await store.get(cid).catch((err: unknown) => {
      // The store's own message names where it lives; the client needs only which block is missing.
      throw err instanceof NotFoundError ? new HttpError(404, `block ${cidText(cid)} is not in this store`) : err
    })
    res.writeHead(200, {
      ...common, 'content-type': rawType, 'content-length': block.byteLength, etag: `"${cidText(cid)}.raw"`,
      'content-disposition': `attachment; filename="${cidText(cid)}.bin"`,
    })
    return sendBody(res, head ? undefined : block)
  }
  if (format !== 'car') throw new HttpError(406, 'this is a trustless gateway: ask for ?format=raw or ?format=car (or Accept: application/vnd.ipld.raw / .car)')

  const scope = url.searchParams.get('dag-scope') ?? 'all'
  if (scope !== 'all' && scope !== 'entity' && scope !== 'block') throw new HttpError(400, `dag-scope=${scope}: expected all, entity or block`)
  const range = parseEntityBytes(url.searchParams.get('entity-bytes'))
  const dups = /(?:^|[;,\s])dups=y\b/.test(accept) ? 'y' : 'n'
  if (/(?:^|[;,\s])version=2\b/.test(accept) && !/version=1/.test(accept)) throw new HttpError(406, 'only CARv1 is served')
  if (!(await store.has(cid))) throw new HttpError(404, `block ${cidText(cid)} is not in this store`)
  res.writeHead(200, {
    ...common, 'content-type': `${carType}; version=1; order=dfs; dups=${dups}`,
    etag: `W/"${cidText(cid)}.car.${scope}.${url.searchParams.get('entity-bytes') ?? ''}.${dups}"`,
    'content-disposition': `attachment; filename="${cidText(cid)}.car"`,
  })
  if (head) return sendBody(res, undefined)
  const blocks = dfsBlocks(store, cid, scope, range)
  // Pulled as the client reads: a client that leaves stops the walk of the DAG too.
  return sendBody(res, carStream([cid], dups === 'y' ? blocks : firstOfEach(blocks)))
}

/** Each block once, where it first appears (dups=n). */
async function* firstOfEach(blocks: AsyncIterable<{ cid: CID; bytes: Uint8Array }>): AsyncGenerator<{ cid: CID; bytes: Uint8Array }> {
  const seen = new Set<string>()
  for await (const block of blocks) {
    const key = cidText(block.cid)
    if (seen.has(key)) continue
    seen.add(key)
    yield block
  }
}

/** The CID in the path; a malformed one is the client's 400, told only what the client sent. */
function requestedCid(text: string): CID {
  try {
    return parseCid(text)
  } catch {
    throw new HttpError(400, `"${text}" is not a CID`)
  }
}

interface ByteRange { from: number; to: number | undefined }

/** `entity-bytes=from:to` (inclusive, `*` for the end, negative counts from the end). */
function parseEntityBytes(value: string | null): ByteRange | undefined {
  if (value === null) return undefined
  const m = /^(-?\d+):(\*|-?\d+)$/.exec(value)
  if (!m) throw new HttpError(400, `entity-bytes=${value}: expected from:to`)
  return { from: Number(m[1]), to: m[2] === '*' ? undefined : Number(m[2]) }
}

/** The blocks of the DAG under `root` in depth-first order, limited by dag-scope and entity-bytes. */
async function* dfsBlocks(store: ServedStore, root: CID, scope: string, range: ByteRange | undefined): AsyncGenerator<{ cid: CID; bytes: Uint8Array }> {
  const rootBytes = await store.get(root)
  yield { cid: root, bytes: rootBytes }
  if (scope === 'block' || root.code !== dagPb.code) return
  let start = 0
  let end = Infinity
  if (range) {
    const node = dagPb.decode(rootBytes)
    const size = node.Data ? Number(UnixFS.unmarshal(node.Data).fileSize()) : 0
    start = range.from < 0 ? Math.max(0, size + range.from) : range.from
    end = range.to === undefined ? size : (range.to < 0 ? size + range.to : range.to) + 1
  }
  yield* children(store, root, rootBytes, 0, start, end)
}

async function* children(store: ServedStore, cid: CID, bytes: Uint8Array, base: number, start: number, end: number): AsyncGenerator<{ cid: CID; bytes: Uint8Array }> {
  if (cid.code !== dagPb.code) return
  const node = dagPb.decode(bytes)
  const fs = node.Data ? (() => { try { return UnixFS.unmarshal(node.Data as Uint8Array) } catch { return undefined } })() : undefined
  let offset = base + (fs?.data?.byteLength ?? 0)
  for (const [i, link] of node.Links.entries()) {
    const size = fs ? Number(fs.blockSizes[i] ?? 0n) : 0
    // Without UnixFS sizes (not a file) every child is in range.
    if (!fs || (offset + size > start && offset < end)) {
      const child = await store.get(link.Hash)
      yield { cid: link.Hash, bytes: child }
      if (link.Hash.code !== raw.code) yield* children(store, link.Hash, child, offset, start, end)
    }
    offset += size
  }
}

/** `host:port`, `[v6]:port`, `:port` or a URL -> what http.Server.listen takes. */
export function parseListen(text: string): { host: string; port: number } {
  const m = /^(?:https?:\/\/)?(?:\[([^\]]+)\]|([^:/]*)):(\d+)\/?$/.exec(text.trim())
  if (!m) throw new UsageError(`--listen "${text}": expected HOST:PORT, e.g. 127.0.0.1:8080 or 0.0.0.0:8080`)
  const port = Number(m[3])
  if (port > 65535) throw new UsageError(`--listen "${text}": port ${port} is out of range`)
  return { host: m[1] ?? (m[2] || '0.0.0.0'), port }
}

/** Start serving; resolves once listening, with the URL clients use and a close(). */
export async function serveGateway(store: ServedStore, listen: { host: string; port: number }, o: ServeOptions = {}): Promise<{ url: string; server: http.Server; close(): Promise<void> }> {
  const server = http.createServer({ keepAliveTimeout: 30_000 }, gatewayHandler(store, o))
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => reject(new UsageError(`cannot listen on ${listen.host}:${listen.port}: ${err.message}`)))
    server.listen(listen.port, listen.host, () => resolve())
  })
  const addr = server.address() as AddressInfo
  const host = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address
  return {
    url: `http://${host}:${addr.port}`,
    server,
    close: () => new Promise<void>((resolve) => { server.close(() => resolve()); server.closeAllConnections() }),
  }
}
