import { unmarshalIPNSRecord, type IPNSRecord } from 'ipns'
import { NotFoundError } from '../errors.js'
import { once } from '../util/once.js'
import { parseCid, type CID } from './cid.js'
import { deriveKey, pkcs8Pem } from './ipns-key.js'
import { ttlMsOf, type IpnsService, type Published, type PublishRequest } from './ipns.js'
import type { KuboClient } from './kubo.js'
import { KuboError, multipartFile, replyJson } from './kubo-rpc.js'

/** IPNS through kubo's keystore and name system. */
export class KuboIpns implements IpnsService {
  constructor(private readonly kubo: KuboClient) {}

  /**
   * Make sure kubo holds the key derived from `ref`, named by the reference itself, so kubo's own
   * republisher keeps the record alive while its daemon runs.
   */
  async importDerivedKey(ref: string): Promise<string> {
    const have = await replyJson<{ Keys?: Array<{ Name: string; Id: string }> }>(await this.kubo.call('key/list', { l: 'true', 'ipns-base': 'base36' }))
    const existing = have.Keys?.find((k) => k.Name === ref)
    if (existing) return existing.Id
    const pem = Buffer.from(pkcs8Pem(deriveKey(ref)))
    const reply = await this.kubo.call('key/import', { arg: ref, format: 'pem-pkcs8-cleartext', 'ipns-base': 'base36' }, multipartFile(once(pem), 'key'))
    return (await replyJson<{ Name: string; Id: string }>(reply)).Id
  }

  async publish(root: CID, req: PublishRequest): Promise<Published> {
    const key = req.key ?? req.ref
    if (req.key === undefined) await this.importDerivedKey(req.ref)
    const started = Date.now()
    const r = await replyJson<{ Name: string; Value: string }>(await this.kubo.call('name/publish', {
      arg: `/ipfs/${root.toString()}`, key, 'allow-offline': 'true', lifetime: `${req.lifetimeMs}ms`, ttl: `${req.ttlMs}ms`, 'ipns-base': 'base36', resolve: 'false',
    }))
    return { name: r.Name, expires: (await this.expiry(r.Name)) ?? new Date(started + req.lifetimeMs) }
  }

  async resolve(name: string, options: { signal?: AbortSignal } = {}): Promise<CID> {
    let path: string
    try {
      path = (await replyJson<{ Path: string }>(await this.kubo.call('name/resolve', { arg: `/ipns/${name}`, nocache: 'true', recursive: 'true' }, { signal: options.signal }))).Path
    } catch (err) {
      if (err instanceof KuboError) throw new NotFoundError(`could not resolve /ipns/${name}: ${err.message.replace(/^kubo name\/resolve failed \(HTTP \d+\): /, '')}`)
      throw err
    }
    const m = /^\/ipfs\/([^/]+)$/.exec(path)
    if (!m) throw new NotFoundError(`/ipns/${name} points at ${path}, which is not /ipfs/<CID> of an image root`)
    return parseCid(m[1] as string)
  }

  /** The record kubo holds for the name (its own, or one it fetched), read with routing/get. */
  private async record(name: string): Promise<IPNSRecord | undefined> {
    try {
      const reply = await this.kubo.call('routing/get', { arg: `/ipns/${name}` })
      const chunks: Uint8Array[] = []
      for await (const c of reply.body) chunks.push(c)
      return unmarshalIPNSRecord(Buffer.concat(chunks))
    } catch {
      return undefined
    }
  }

  async expiry(name: string): Promise<Date | undefined> {
    const record = await this.record(name)
    return record ? new Date(record.validity) : undefined
  }

  async ttl(name: string): Promise<number | undefined> {
    const record = await this.record(name)
    return record ? ttlMsOf(record) : undefined
  }
}
