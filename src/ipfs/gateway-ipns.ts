import { multihashToIPNSRoutingKey, unmarshalIPNSRecord } from 'ipns'
import { ipnsValidator } from 'ipns/validator'
import { IntegrityError, NotFoundError, UsageError } from '../errors.js'
import { parseCid, type CID } from './cid.js'
import { ttlMsOf, type IpnsService, type Published } from './ipns.js'

/** Fetches the raw IPNS record of a name (`/ipns/<name>?format=ipns-record`). */
export type RecordFetcher = (name: string, signal?: AbortSignal) => Promise<Uint8Array>

/**
 * IPNS through trustless gateways: the signed record is fetched and verified here (signature by the
 * key the name is made of, and expiry), so the gateway is trusted no more for names than for blocks.
 */
export class GatewayIpns implements IpnsService {
  constructor(private readonly fetchRecord: RecordFetcher) {}

  async publish(): Promise<Published> {
    throw new UsageError('cannot publish through a gateway: push to kubo or the embedded store')
  }

  private async record(name: string, signal?: AbortSignal): Promise<ReturnType<typeof unmarshalIPNSRecord>> {
    let key: ReturnType<typeof multihashToIPNSRoutingKey>
    try {
      key = multihashToIPNSRoutingKey(parseCid(name).multihash as Parameters<typeof multihashToIPNSRoutingKey>[0])
    } catch {
      throw new UsageError(`/ipns/${name}: only key names (k51…) can be verified through a gateway; resolve DNSLink names with kubo`)
    }
    const bytes = await this.fetchRecord(name, signal)
    try {
      await ipnsValidator(key, bytes)
    } catch (err) {
      throw new IntegrityError(`the IPNS record a gateway sent for ${name} is not valid: ${(err as Error).message}`)
    }
    return unmarshalIPNSRecord(bytes)
  }

  async resolve(name: string, options: { signal?: AbortSignal } = {}): Promise<CID> {
    const record = await this.record(name, options.signal)
    const m = /^\/ipfs\/([^/]+)$/.exec(record.value)
    if (!m) throw new NotFoundError(`/ipns/${name} points at ${record.value}, which is not /ipfs/<CID> of an image root`)
    return parseCid(m[1] as string)
  }

  async expiry(name: string): Promise<Date | undefined> {
    return this.record(name).then((r) => new Date(r.validity), () => undefined)
  }

  async ttl(name: string): Promise<number | undefined> {
    return this.record(name).then(ttlMsOf, () => undefined)
  }
}
