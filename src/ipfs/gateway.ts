import http from 'node:http'
import https from 'node:https'
import { CarBlockIterator } from '@ipld/car/iterator'
import * as dagPb from '@ipld/dag-pb'
import { UnixFS } from 'ipfs-unixfs'
import * as raw from 'multiformats/codecs/raw'
import type { CID } from 'multiformats/cid'
import { IntegrityError, IpcrError, NotFoundError, UnavailableError, UsageError } from '../errors.js'
import type { IpfsBackend } from './backend.js'
import { verifyBlock } from './block.js'
import { keepAliveAgent } from './http-agent.js'
import { cidText } from './cid.js'
import type { IpnsService } from './ipns.js'
import { catUnixfs } from './unixfs.js'

export interface GatewayOptions {
  /** Give up on a request whose connection stays silent this long (default 60 s). */
  idleTimeoutMs?: number
  /** Blocks fetched ahead when walking a file block by block (default 16). */
  window?: number
}

/** Bytes of one block as a gateway may send them; kubo's limit is 2 MiB with --allow-big-block off. */
const maxBlockSize = 4 << 20
const carAccept = 'application/vnd.ipld.car; version=1; order=dfs; dups=y'

/** The gateway sent a CAR we cannot stream-verify (wrong order, ended early): fall back to single blocks. */
class CarShapeError extends IpcrError {}

/** One gateway: its base URL, a keep-alive agent, and why we stopped trusting it (if it lied once). */
class Gateway {
  readonly agent: http.Agent
  dropped: string | undefined

  constructor(readonly url: string) {
    this.agent = keepAliveAgent(url)
  }
}

/**
 * Blobs through the trustless gateway protocol (`GET /ipfs/<cid>?format=raw|car`) from any number of
 * gateways, tried in order. Nothing a gateway sends is believed: every block is hashed against its
 * CID before a byte of it is used, a whole file arrives as one CAR in depth-first order (checked
 * block by block as it streams), and ranges or gateways without that order are walked block by block
 * with `?format=raw`. A gateway that sends a block not matching its CID is not asked again.
 * Blob digests are checked by the callers (rpull writes each blob against its descriptor's digest).
 */
export class GatewayIpfs implements IpfsBackend {
  readonly description: string
  private readonly gateways: Gateway[]
  private readonly idleTimeoutMs: number
  private readonly window: number

  constructor(urls: string[], o: GatewayOptions = {}) {
    if (urls.length === 0) throw new UsageError('no gateway given')
    this.gateways = urls.map((u) => new Gateway(gatewayBase(u)))
    this.description = `trustless gateway ${this.gateways.map((g) => g.url).join(', ')}`
    this.idleTimeoutMs = o.idleTimeoutMs ?? 60_000
    this.window = o.window ?? 16
  }

  private usable(): Gateway[] {
    return this.gateways.filter((g) => g.dropped === undefined)
  }

  async add(): Promise<CID> {
    throw new UsageError('a gateway is read-only: push to kubo, the embedded store or a CAR file')
  }

  /** One block, `?format=raw`, from the first gateway that has it and sends the right bytes. */
  readonly getBlock = async (cid: CID, options: { signal?: AbortSignal } = {}): Promise<Uint8Array> => {
    const failures: string[] = []
    let lied = false
    let missing = 0
    const usable = this.usable()
    for (const gw of usable) {
      let bytes: Uint8Array
      try {
        bytes = await this.fetchRaw(gw, cid, options.signal)
      } catch (err) {
        if (options.signal?.aborted) throw err
        if (err instanceof NotFoundError) missing++
        failures.push(`${gw.url}: ${(err as Error).message}`)
        continue
      }
      try {
        return verifyBlock(cid, bytes, gw.url)
      } catch (err) {
        gw.dropped = (err as Error).message
        lied = true
        failures.push((err as Error).message)
      }
    }
    const dropped = this.gateways.filter((g) => g.dropped !== undefined && !usable.includes(g)).map((g) => `${g.url} (dropped: ${g.dropped})`)
    const why = [...failures, ...dropped].join('; ')
    if (lied || usable.length === 0) {
      if (failures.length === 1 && lied) throw new IntegrityError(failures[0] as string)
      throw new IntegrityError(`no gateway sent block ${cidText(cid)} intact: ${why}`)
    }
    if (missing === usable.length) throw new NotFoundError(`no gateway has block ${cidText(cid)}: ${why}`)
    throw new UnavailableError(`could not fetch block ${cidText(cid)}: ${why}`)
  }

  async *cat(cid: CID, options: { offset?: number; length?: number; signal?: AbortSignal } = {}): AsyncGenerator<Uint8Array> {
    const whole = options.offset === undefined && options.length === undefined
    if (!whole || cid.code !== dagPb.code) {
      yield* catUnixfs(this.getBlock, cid, { ...options, window: this.window })
      return
    }
    // A whole file: one CAR request; whatever it did not deliver is walked block by block.
    let done = 0
    for (const gw of this.usable()) {
      let blocks: AsyncIterable<{ cid: CID; bytes: Uint8Array }> | undefined
      try {
        blocks = await this.fetchCar(gw, cid, options.signal)
      } catch (err) {
        if (options.signal?.aborted) throw err
        continue
      }
      if (!blocks) continue
      try {
        for await (const chunk of dfsFile(blocks, cid, gw.url)) {
          done += chunk.byteLength
          yield chunk
        }
        return
      } catch (err) {
        if (options.signal?.aborted) throw err
        // A malformed CAR (a parse error) is handled like one in the wrong order: fall back to blocks.
        if (err instanceof IntegrityError) {
          gw.dropped = err.message
          if (this.usable().length === 0) throw err
        }
        break
      }
    }
    yield* catUnixfs(this.getBlock, cid, { offset: done, signal: options.signal, window: this.window })
  }

  private async fetchRaw(gw: Gateway, cid: CID, signal: AbortSignal | undefined): Promise<Uint8Array> {
    const res = await this.get(gw, `/ipfs/${cidText(cid)}?format=raw`, 'application/vnd.ipld.raw', signal)
    const type = res.headers['content-type'] ?? ''
    if (!type.startsWith('application/vnd.ipld.raw')) {
      res.destroy()
      throw new UnavailableError(`answered ?format=raw with ${type || 'no content type'}: not a trustless gateway`)
    }
    return readLimited(res, maxBlockSize, `block ${cidText(cid)}`)
  }

  /** A CAR response we can verify as it streams (depth-first, duplicates included), or undefined. */
  private async fetchCar(gw: Gateway, cid: CID, signal: AbortSignal | undefined): Promise<AsyncIterable<{ cid: CID; bytes: Uint8Array }> | undefined> {
    const res = await this.get(gw, `/ipfs/${cidText(cid)}?format=car&dag-scope=all`, carAccept, signal)
    const params = contentTypeParams(res.headers['content-type'] ?? '')
    if (params.type !== 'application/vnd.ipld.car' || params.order !== 'dfs' || params.dups !== 'y' || (params.version ?? '1') !== '1') {
      res.destroy()
      return undefined
    }
    const reader = await CarBlockIterator.fromIterable(guarded(res, gw.url))
    return (async function* () {
      try { yield* reader } finally { res.destroy() }
    })()
  }

  /** GET with our Accept header, following redirects; rejects on statuses other than 200. */
  private get(gw: Gateway, path: string, accept: string, signal: AbortSignal | undefined, redirects = 0): Promise<http.IncomingMessage> {
    const url = new URL(path.startsWith('http') ? path : `${gw.url}${path}`)
    const mod = url.protocol === 'https:' ? https : http
    return new Promise((resolve, reject) => {
      const req = mod.get(url, { agent: url.origin === new URL(gw.url).origin ? gw.agent : undefined, headers: { accept }, signal }, (res) => {
        const status = res.statusCode ?? 0
        if (status === 200) { resolve(res); return }
        const location = res.headers.location
        res.resume()
        if (status >= 300 && status < 400 && location && redirects < 5) {
          resolve(this.get(gw, new URL(location, url).toString(), accept, signal, redirects + 1))
          return
        }
        if (status === 404 || status === 410) reject(new NotFoundError(`HTTP ${status}`))
        else reject(new UnavailableError(`HTTP ${status}${status === 504 ? ' (the gateway could not find it in time)' : ''}`))
      })
      req.setTimeout(this.idleTimeoutMs, () => req.destroy(new Error(`no answer within ${this.idleTimeoutMs / 1000} s`)))
      req.on('error', (err) => reject(err instanceof IpcrError ? err : new UnavailableError(err.message, { cause: err })))
    })
  }

  async ipns(): Promise<IpnsService> {
    const { GatewayIpns } = await import('./gateway-ipns.js')
    return new GatewayIpns(async (name, signal) => {
      const failures: string[] = []
      for (const gw of this.usable()) {
        try {
          const res = await this.get(gw, `/ipns/${name}?format=ipns-record`, 'application/vnd.ipfs.ipns-record', signal)
          return await readLimited(res, 10 << 10, `IPNS record of ${name}`)
        } catch (err) {
          if (signal?.aborted) throw err
          failures.push(`${gw.url}: ${(err as Error).message}`)
        }
      }
      throw new NotFoundError(`no gateway gave an IPNS record for ${name}: ${failures.join('; ')}`)
    })
  }

  async close(): Promise<void> {
    for (const g of this.gateways) g.agent.destroy()
  }
}

/** `http://host:port/` or `http://host:port/ipfs/` -> `http://host:port`. */
export function gatewayBase(url: string): string {
  let u: URL
  try {
    u = new URL(url)
  } catch {
    throw new UsageError(`--gateway "${url}" is not a URL (expected e.g. http://127.0.0.1:8080)`)
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new UsageError(`--gateway "${url}": only http:// and https:// gateways are supported`)
  return `${u.origin}${u.pathname.replace(/\/+$/, '').replace(/\/ipfs$/, '')}`
}

/**
 * A UnixFS file's bytes from a CAR in depth-first order with duplicates: each block must be the one the
 * walk expects next and hash to its CID before its bytes are used.
 */
async function* dfsFile(blocks: AsyncIterable<{ cid: CID; bytes: Uint8Array }>, root: CID, from: string): AsyncGenerator<Uint8Array> {
  const it = blocks[Symbol.asyncIterator]()
  const stack: Array<{ cid: CID; size?: number }> = [{ cid: root }]
  try {
    for (let want = stack.pop(); want !== undefined; want = stack.pop()) {
      const next = await it.next()
      if (next.done === true) throw new CarShapeError(`the CAR from ${from} ended before block ${cidText(want.cid)}`)
      const { cid, bytes } = next.value
      if (!cid.equals(want.cid)) throw new CarShapeError(`the CAR from ${from} sent ${cidText(cid)} where depth-first order needs ${cidText(want.cid)}`)
      verifyBlock(cid, bytes, from)
      if (cid.code === raw.code) {
        if (want.size !== undefined && bytes.byteLength !== want.size) {
          throw new IntegrityError(`block ${cidText(cid)} holds ${bytes.byteLength} bytes where its parent records ${want.size}: not a well-formed UnixFS file`)
        }
        if (bytes.byteLength > 0) yield bytes
        continue
      }
      if (cid.code !== dagPb.code) throw new IntegrityError(`block ${cidText(cid)} is neither raw nor dag-pb: not a UnixFS file`)
      const node = dagPb.decode(bytes)
      const fs = node.Data ? UnixFS.unmarshal(node.Data) : undefined
      if (!fs || (fs.type !== 'file' && fs.type !== 'raw')) throw new IntegrityError(`block ${cidText(cid)} is not a UnixFS file`)
      if (fs.data && fs.data.byteLength > 0) yield fs.data
      for (let i = node.Links.length - 1; i >= 0; i--) {
        const link = node.Links[i] as dagPb.PBLink
        stack.push({ cid: link.Hash, ...(link.Hash.code === raw.code ? { size: Number(fs.blockSizes[i] ?? 0n) } : {}) })
      }
    }
  } finally {
    await it.return?.()
  }
}

function contentTypeParams(header: string): Record<string, string | undefined> & { type: string } {
  const [type, ...rest] = header.split(';')
  const out: Record<string, string> & { type: string } = { type: (type ?? '').trim().toLowerCase() }
  for (const p of rest) {
    const [k, v] = p.split('=')
    if (k && v) out[k.trim().toLowerCase()] = v.trim().toLowerCase()
  }
  return out
}

async function readLimited(res: http.IncomingMessage, max: number, what: string): Promise<Uint8Array> {
  const parts: Buffer[] = []
  let n = 0
  for await (const chunk of guarded(res, what)) {
    n += chunk.byteLength
    if (n > max) { res.destroy(); throw new IntegrityError(`${what}: the gateway sent more than ${max} bytes`) }
    parts.push(Buffer.from(chunk))
  }
  return Buffer.concat(parts)
}

/** A response body that fails with UnavailableError when the connection breaks or ends early. */
async function* guarded(res: http.IncomingMessage, what: string): AsyncGenerator<Uint8Array> {
  try {
    for await (const chunk of res) yield chunk as Buffer
  } catch (err) {
    throw err instanceof IpcrError ? err : new UnavailableError(`${what}: the connection broke: ${(err as Error).message}`)
  }
  if (!res.complete) throw new UnavailableError(`${what}: the reply ended early`)
}
