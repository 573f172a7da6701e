import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { generateKeyPairFromSeed } from '@libp2p/crypto/keys'
import { createIPNSRecord, marshalIPNSRecord, multihashToIPNSRoutingKey, unmarshalIPNSRecord } from 'ipns'
import { ipnsValidator } from 'ipns/validator'
import { createHash } from 'node:crypto'
import { NotFoundError, UsageError, IntegrityError } from '../errors.js'
import { writeFileAtomic } from '../util/fs-util.js'
import { parseCid, type CID } from './cid.js'
import { ipnsNameForRef } from './ipns-key.js'
import { ttlMsOf, type IpnsService, type Published, type PublishRequest } from './ipns.js'

/**
 * IPNS without a daemon: records are made and signed in-process with the reference's derived key
 * and kept beside the embedded blocks, one file per name; a resolve verifies signature and expiry.
 */
export class EmbeddedIpns implements IpnsService {
  constructor(private readonly dir: string) {}

  private path(name: string): string {
    return join(this.dir, `${name}.record`)
  }

  async publish(root: CID, req: PublishRequest): Promise<Published> {
    if (req.key !== undefined) throw new UsageError(`--ipns-key needs kubo: the embedded store has no keystore (publish under the derived key, or start kubo)`)
    const seed = createHash('sha256').update(req.ref, 'utf8').digest()
    const key = await generateKeyPairFromSeed('Ed25519', seed)
    const name = ipnsNameForRef(req.ref)
    const previous = await this.read(name).catch(() => undefined)
    const sequence = previous ? previous.sequence + 1n : 0n
    const record = await createIPNSRecord(key, `/ipfs/${root.toString()}`, sequence, req.lifetimeMs, { ttlNs: BigInt(req.ttlMs) * 1_000_000n })
    await writeFileAtomic(this.path(name), marshalIPNSRecord(record))
    return { name, expires: new Date(record.validity) }
  }

  private async read(name: string): Promise<ReturnType<typeof unmarshalIPNSRecord>> {
    const bytes = await readFile(this.path(name)).catch(() => { throw new NotFoundError(`no IPNS record for ${name} in the embedded store at ${this.dir}`) })
    try {
      // A libp2p-key name carries an identity (0x00) multihash of the public key, which ipns checks for.
      const multihash = parseCid(name).multihash as Parameters<typeof multihashToIPNSRoutingKey>[0]
      await ipnsValidator(multihashToIPNSRoutingKey(multihash), bytes)
    } catch (err) {
      throw new IntegrityError(`the IPNS record for ${name} is not valid: ${(err as Error).message}`)
    }
    return unmarshalIPNSRecord(bytes)
  }

  async resolve(name: string): Promise<CID> {
    const record = await this.read(name)
    const m = /^\/ipfs\/([^/]+)$/.exec(record.value)
    if (!m) throw new NotFoundError(`/ipns/${name} points at ${record.value}, which is not /ipfs/<CID> of an image root`)
    return parseCid(m[1] as string)
  }

  async expiry(name: string): Promise<Date | undefined> {
    return this.read(name).then((r) => new Date(r.validity), () => undefined)
  }

  async ttl(name: string): Promise<number | undefined> {
    return this.read(name).then(ttlMsOf, () => undefined)
  }
}
