import { createHash, type Hash } from 'node:crypto'
import http from 'node:http'
import https from 'node:https'
import type { CID } from 'multiformats/cid'
import { IntegrityError, IpcrError, UnavailableError } from '../errors.js'
import type { IpfsBackend, Pinning } from './backend.js'
import { kuboPinning } from './kubo-pins.js'
import type { IpnsService } from './ipns.js'
import { cidText, parseCid } from './cid.js'
import { readAll } from '../oci/digest.js'
import { guardBody } from './http-body.js'
import { keepAliveAgent } from './http-agent.js'
import type { KuboGateway } from './kubo-gateway.js'
import { CHUNK_SIZE, kuboAddParams } from './profile.js'
import { profileShapeProblem } from './profile-shape.js'
import { KuboError, multipartFile, replyJson, type KuboReply } from './kubo-rpc.js'

// The RPC's wire helpers live in kubo-rpc.ts (kubo-ipns.ts uses them without loading this client).
export { KuboError, multipartFile, replyJson, type KuboReply }


/** kubo's add gave a CID other than ours: the repo's Import settings differ from the defaults. */
export class CidMismatchError extends IpcrError {}


/**
 * A small kubo RPC client on node:http. Not fetch: undici buffers a streamed request body to replay
 * redirects, and blobs can be gigabytes (wire-format.md §2). Every call is a POST with no Origin header.
 */
export class KuboClient implements IpfsBackend {
  readonly description: string
  readonly pinning: Pinning = kuboPinning((cmd, args) => this.call(cmd, args))
  private readonly agent: http.Agent

  /** `gateway`: the same node's HTTP gateway, which reads go through first (kubo-gateway.ts). */
  constructor(readonly baseUrl: string, readonly gateway?: KuboGateway) {
    this.description = `kubo at ${baseUrl}`
    this.agent = keepAliveAgent(baseUrl)
  }

  /** Probe the daemon; resolves to its version string, or rejects with UnavailableError. */
  async version(timeoutMs = 3000): Promise<string> {
    const reply = await this.call('version', {}, { timeoutMs })
    const v = JSON.parse((await readAll(reply.body)).toString('utf8')) as { Version?: string }
    return v.Version ?? 'unknown'
  }

  /**
   * Add through kubo, then check that the DAG it made is our profile's (profile-shape.ts) from its
   * inner nodes, instead of building the whole DAG again beside it: that second pass hashed every
   * byte once more, ~90 ms of a 63 MiB push's ~500 ms of CPU (bench/registry --side push).
   */
  async add(bytes: AsyncIterable<Uint8Array>, options: { signal?: AbortSignal } = {}): Promise<CID> {
    let size = 0
    // The bytes' sha256 while they fit in one chunk: such a file is one raw block named by it.
    let small: Hash | undefined = createHash('sha256')
    async function* counted(): AsyncGenerator<Uint8Array> {
      for await (const chunk of bytes) {
        size += chunk.byteLength
        if (size > CHUNK_SIZE) small = undefined
        small?.update(chunk)
        yield chunk
      }
    }
    const reply = await this.call('add', { ...kuboAddParams, progress: 'false', quieter: 'true' }, { ...multipartFile(counted()), signal: options.signal })
    let hash: string | undefined
    for await (const line of ndjson(reply.body)) {
      const l = line as { Hash?: string; Message?: string }
      if (l.Message !== undefined && l.Hash === undefined) throw new KuboError(`kubo add failed: ${l.Message}`)
      if (l.Hash !== undefined) hash = l.Hash
    }
    streamError(reply, 'add')
    if (hash === undefined) throw new KuboError('kubo add returned no CID')
    const cid = parseCid(hash)
    const problem = await profileShapeProblem(cid, size, small?.digest(), (c) => this.block(c, options.signal))
    if (problem !== undefined) {
      throw new CidMismatchError(
        `kubo at ${this.baseUrl} gave CID ${cidText(cid)} for ${size} bytes, which is not what the default UnixFS profile makes of them (${problem}): ` +
        'its Import settings are not the defaults (check `ipfs config Import`, e.g. a unixfs-v1-2025 profile); ' +
        'reset them with `ipfs config --json Import {}` so CIDs match ctr-remote and other nodes')
    }
    return cid
  }

  /** One block's bytes (`block/get`). */
  private async block(cid: CID, signal: AbortSignal | undefined): Promise<Uint8Array> {
    return readAll((await this.call('block/get', { arg: cidText(cid) }, { signal })).body)
  }

  async *cat(cid: CID, options: { offset?: number; length?: number; signal?: AbortSignal } = {}): AsyncGenerator<Uint8Array> {
    const fast = await this.gateway?.open(cid, options)
    if (fast) {
      yield* fast
      return
    }
    const args: Record<string, string> = { arg: `/ipfs/${cidText(cid)}` }
    if (options.offset !== undefined) args.offset = String(options.offset)
    if (options.length !== undefined) args.length = String(options.length)
    const reply = await this.call('cat', args, { signal: options.signal })
    yield* reply.body
    streamError(reply, `cat ${cidText(cid)}`)
  }

  /** POST /api/v0/<cmd>; rejects with UnavailableError when kubo cannot be reached, KuboError on its own errors. */
  async call(cmd: string, args: Record<string, string | string[]>, options: {
    body?: AsyncIterable<Uint8Array>; contentType?: string; signal?: AbortSignal | undefined; timeoutMs?: number
  } = {}): Promise<KuboReply> {
    const url = new URL(`${this.baseUrl}/api/v0/${cmd}`)
    for (const [k, v] of Object.entries(args)) for (const x of Array.isArray(v) ? v : [v]) url.searchParams.append(k, x)
    const mod = url.protocol === 'https:' ? https : http
    const headers: http.OutgoingHttpHeaders = {}
    if (options.body) { headers['content-type'] = options.contentType ?? 'application/octet-stream'; headers['transfer-encoding'] = 'chunked' }
    return await new Promise<KuboReply>((resolve, reject) => {
      const req = mod.request(url, { method: 'POST', agent: this.agent, headers, signal: options.signal })
      const unreachable = (err: Error): UnavailableError =>
        new UnavailableError(`kubo at ${this.baseUrl} ${options.body ? 'stopped answering during' : 'did not answer'} ${cmd}: ${err.message} (is \`ipfs daemon\` running? set --ipfs-api or IPFS_PATH)`, { cause: err })
      let settled = false
      const fail = (err: Error): void => { if (!settled) { settled = true; reject(err) } }
      if (options.timeoutMs !== undefined) req.setTimeout(options.timeoutMs, () => req.destroy(new Error(`no answer within ${options.timeoutMs} ms`)))
      req.on('error', (err) => fail(err instanceof IpcrError ? err : unreachable(err)))
      req.on('response', (res) => {
        const status = res.statusCode ?? 0
        if (status >= 200 && status < 300) {
          settled = true
          res.on('error', () => { /* surfaced through the body iterator */ })
          resolve({ status, headers: res.headers, body: guardBody(res, unreachable), trailers: () => res.trailers })
          return
        }
        readAll(res).then((b) => {
          let message = b.toString('utf8').trim()
          try { message = (JSON.parse(message) as { Message?: string }).Message ?? message } catch { /* plain text */ }
          fail(new KuboError(`kubo ${cmd} failed (HTTP ${status}): ${message}`))
        }, (err: Error) => fail(unreachable(err)))
      })
      if (!options.body) { req.end(); return }
      void (async () => {
        try {
          for await (const chunk of options.body!) {
            if (!req.write(chunk)) {
              // Listeners are removed again after each wait: a multi-GiB upload waits thousands of times.
              await new Promise<void>((resolve, reject) => {
                const onDrain = (): void => { req.off('close', onClose); resolve() }
                const onClose = (): void => { req.off('drain', onDrain); reject(new Error('connection closed')) }
                req.once('drain', onDrain)
                req.once('close', onClose)
              })
            }
          }
          req.end()
        } catch (err) {
          req.destroy(err as Error)
          fail(err instanceof IpcrError ? err : unreachable(err as Error))
        }
      })()
    })
  }

  async ipns(): Promise<IpnsService> {
    const { KuboIpns } = await import('./kubo-ipns.js')
    return new KuboIpns(this)
  }

  async close(): Promise<void> {
    this.agent.destroy()
    this.gateway?.close()
  }
}

/** kubo reports errors that happen after the reply started in an X-Stream-Error trailer. */
function streamError(reply: KuboReply, what: string): void {
  const err = reply.trailers()['x-stream-error']
  if (typeof err === 'string' && err !== '') {
    if (/not found|no link named|could not find/i.test(err)) throw new KuboError(`kubo ${what}: ${err}`)
    throw new IntegrityError(`kubo ${what}: ${err}`)
  }
}

async function* ndjson(body: AsyncIterable<Uint8Array>): AsyncGenerator<unknown> {
  let rest = ''
  for await (const chunk of body) {
    rest += Buffer.from(chunk).toString('utf8')
    let nl: number
    while ((nl = rest.indexOf('\n')) >= 0) {
      const line = rest.slice(0, nl).trim()
      rest = rest.slice(nl + 1)
      if (line !== '') yield JSON.parse(line)
    }
  }
  if (rest.trim() !== '') yield JSON.parse(rest)
}
