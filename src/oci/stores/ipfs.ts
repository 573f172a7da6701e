import { IntegrityError, NotFoundError, UnavailableError, UsageError } from '../../errors.js'
import { failOnStall } from '../../util/stall.js'
import type { IpfsBackend } from '../../ipfs/backend.js'
import { cidText, parseCid, type CID } from '../../ipfs/cid.js'
import { type Descriptor, ipfsUrlOf } from '../descriptor.js'
import { readAll } from '../digest.js'
import { parseDescriptorJson } from '../manifest.js'
import type { ImageSource } from '../store.js'

/** A root descriptor is a few hundred bytes; anything much larger is not one. */
const maxRootSize = 64 << 10

/**
 * An IPFS-enabled image, named by the CID of its root descriptor. Every blob is fetched through
 * the `ipfs://` URL of its descriptor and nothing else: an image cannot make us fetch from http://.
 */
export class IpfsImageSource implements ImageSource {
  readonly location: string

  /** `stallMs`: fail a blob read that receives nothing for this long (none by default). */
  constructor(readonly rootCid: CID, private readonly ipfs: IpfsBackend, private readonly stallMs?: number) {
    this.location = `ipfs:${cidText(rootCid)}`
  }

  async root(): Promise<Descriptor> {
    const bytes = await readAll(limited(this.ipfs.cat(this.rootCid), maxRootSize, `root ${cidText(this.rootCid)}`))
    let json: unknown
    try {
      json = JSON.parse(bytes.toString('utf8'))
    } catch {
      throw new IntegrityError(`${cidText(this.rootCid)} is not an image root: its content is not a JSON descriptor`)
    }
    const desc = parseDescriptorJson(json, `root ${cidText(this.rootCid)}`)
    if (ipfsUrlOf(desc) === undefined) throw new IntegrityError(`root ${cidText(this.rootCid)} has no ipfs:// URL: it is not an IPFS-enabled image`)
    return desc
  }

  blob(desc: Descriptor, offset = 0): AsyncIterable<Uint8Array> {
    const cid = cidOfDescriptor(desc)
    const bytes = this.ipfs.cat(cid, offset > 0 ? { offset } : {})
    const guarded = this.stallMs === undefined ? bytes : failOnStall(bytes, this.stallMs, () => new UnavailableError(
      `${desc.digest}: no data from the ${this.ipfs.description} for ${this.stallMs! / 1000} s while fetching ${cidText(cid)} ` +
      '(a peer may have stopped sending; rerun, or raise --timeout)'))
    return limited(guarded, desc.size - offset, desc.digest)
  }

  async close(): Promise<void> { /* the backend belongs to the caller */ }
}

/** The CID in a descriptor's ipfs:// URL; any other URL scheme is refused, never followed. */
export function cidOfDescriptor(desc: Descriptor): CID {
  const url = ipfsUrlOf(desc)
  if (url === undefined) {
    const others = desc.urls?.length ? ` (it lists only ${desc.urls.join(', ')}, which are never followed)` : ''
    throw new IntegrityError(`${desc.digest} (${desc.mediaType}) has no ipfs:// URL${others}`)
  }
  try {
    return parseCid(url.slice('ipfs://'.length))
  } catch (err) {
    if (err instanceof UsageError) throw new IntegrityError(`${desc.digest} has a malformed URL ${url}`)
    throw err
  }
}

/** Stop reading once a stream passes what its descriptor promised, so a huge blob cannot exhaust us. */
async function* limited(source: AsyncIterable<Uint8Array>, max: number, what: string): AsyncGenerator<Uint8Array> {
  let seen = 0
  for await (const chunk of source) {
    seen += chunk.byteLength
    if (seen > max) throw new IntegrityError(`${what}: more bytes than the ${max} expected`)
    yield chunk
  }
}

export { NotFoundError }
