import http from 'node:http'
import https from 'node:https'
import type { CID } from 'multiformats/cid'
import { UnavailableError, UsageError } from '../errors.js'
import { cidText } from './cid.js'
import { guardBody } from './http-body.js'
import { keepAliveAgent } from './http-agent.js'

export interface GatewayRead {
  offset?: number | undefined
  length?: number | undefined
  signal?: AbortSignal | undefined
}

/**
 * Blob bytes through the HTTP gateway of the kubo node whose RPC API we talk to. kubo's RPC `cat`
 * streams a file in ~4 KiB chunks and spends several times the CPU of its gateway on the same
 * bytes (a 54 MB layer: 0.20 s against 0.05 s with curl, 14,000 chunks against 840 into Node). On
 * a 2-core machine that CPU is taken from containerd while a layer lands (bench/pull).
 * It is the same node, blockstore and network, so its bytes are as trustworthy as the RPC's, and
 * every blob is still checked against its digest by the caller. Anything unexpected before the
 * first byte (no answer, a status other than 200 or 206, a reply that no IPFS gateway would give)
 * hands that read back to the RPC; one that says the gateway cannot serve us at all (refused
 * connection, a trustless-only gateway's 406, a redirect) stops its use for the rest of the process.
 */
export class KuboGateway {
  /** Why the gateway is no longer used, once it is not. */
  disabled: string | undefined
  private readonly agent: http.Agent

  constructor(readonly url: string, private readonly notify: (message: string) => void = () => undefined) {
    this.agent = keepAliveAgent(url)
  }

  /** The bytes of `cid` (a range of them with offset/length), or undefined: read them through the RPC. */
  async open(cid: CID, o: GatewayRead = {}): Promise<AsyncIterable<Uint8Array> | undefined> {
    if (this.disabled !== undefined) return undefined
    const offset = o.offset ?? 0
    const headers: http.OutgoingHttpHeaders = {}
    if (offset > 0 || o.length !== undefined) headers.range = `bytes=${offset}-${o.length === undefined ? '' : offset + o.length - 1}`
    const path = `/ipfs/${cidText(cid)}`
    let res: http.IncomingMessage
    try {
      res = await this.get(path, headers, o.signal)
    } catch (err) {
      if (o.signal?.aborted) throw err
      this.disable(`did not answer (${(err as Error).message})`)
      return undefined
    }
    const status = res.statusCode ?? 0
    // A read refused for now (404 on an offline node, a 504 retrieval timeout) goes to the RPC,
    // whose own answer is the one the user should see.
    const refuse = (why: string, forGood: boolean): undefined => {
      res.resume()
      if (forGood) this.disable(why)
      return undefined
    }
    if (status === 406 || status === 400 || status === 401 || status === 403 || (status >= 300 && status < 400)) {
      return refuse(`answered HTTP ${status}`, true)
    }
    if (status !== 200 && status !== 206) return refuse(`answered HTTP ${status}`, false)
    // kubo names what it served; a server that does not is not an IPFS gateway (a stale gateway file).
    if (res.headers['x-ipfs-path'] !== path) return refuse('answered without X-Ipfs-Path: it is not an IPFS gateway', true)
    if (headers.range !== undefined) {
      const start = /^bytes (\d+)-/.exec(String(res.headers['content-range'] ?? ''))?.[1]
      if (status !== 206 || Number(start) !== offset) return refuse(`did not honour the range ${headers.range}`, true)
    }
    return guardBody(res, (err) => new UnavailableError(`kubo's gateway at ${this.url} stopped sending ${cidText(cid)}: ${err.message}`, { cause: err }))
  }

  close(): void {
    this.agent.destroy()
  }

  private disable(why: string): void {
    this.disabled = why
    this.notify(`kubo's gateway at ${this.url} ${why}; reading blobs through the RPC API instead`)
  }

  private get(path: string, headers: http.OutgoingHttpHeaders, signal: AbortSignal | undefined): Promise<http.IncomingMessage> {
    const url = new URL(path, this.url)
    const mod = url.protocol === 'https:' ? https : http
    return new Promise((resolve, reject) => {
      const req = mod.request(url, { agent: this.agent, headers, signal }, resolve)
      req.on('error', reject)
      req.end()
    })
  }
}

/**
 * The gateway URL kubo writes to `$IPFS_PATH/gateway` (`http://127.0.0.1:8080`). `localhost` becomes
 * 127.0.0.1, since kubo redirects localhost to subdomain gateways (wire-format.md section 3).
 */
export function gatewayUrl(text: string): string {
  const trimmed = text.trim()
  let url: URL
  try {
    url = new URL(trimmed)
  } catch {
    throw new UsageError(`cannot use kubo gateway address "${trimmed}": expected a URL like http://127.0.0.1:8080`)
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new UsageError(`cannot use kubo gateway address "${trimmed}": not http(s)`)
  if (url.hostname === 'localhost') url.hostname = '127.0.0.1'
  return url.origin
}
