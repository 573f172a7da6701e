import { IntegrityError, NotFoundError, UnavailableError, UsageError } from '../errors.js'
import { failOnStall } from '../util/stall.js'
import type { IpfsBackend } from '../ipfs/backend.js'
import { cidText, parseCid, type CID } from '../ipfs/cid.js'
import { type Descriptor, ipfsUrlOf } from '../oci/descriptor.js'
import { readAll } from '../oci/digest.js'
import { parseDescriptorJson } from '../oci/manifest.js'
import type { ImageSource, RangeReader } from '../oci/store.js'

/** A root descriptor is a few hundred bytes; anything much larger is not one. */
const maxRootSize = 64 << 10

/**
 * An IPFS-enabled image, named by the CID of its root descriptor. Every blob is fetched through
 * the `ipfs://` URL of its descriptor and nothing else: an image cannot make us fetch from http://.
 */
export class IpfsImageSource implements ImageSource, RangeReader {
  readonly location: string

  /**
   * `stallMs`: fail a blob read that receives nothing for this long (none by default). `ownsBackend`:
   * close() closes the backend too (a source opened from a location); otherwise it is the caller's.
   */
  constructor(readonly rootCid: CID, private readonly ipfs: IpfsBackend, private readonly stallMs?: number, private readonly ownsBackend = false) {
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

  blob(desc: Descriptor): AsyncIterable<Uint8Array> {
    return this.blobFrom(desc, 0)
  }

  blobFrom(desc: Descriptor, offset: number): AsyncIterable<Uint8Array> {
    const cid = cidOfDescriptor(desc)
    const bytes = this.ipfs.cat(cid, offset > 0 ? { offset } : {})
    const guarded = this.stallMs === undefined ? bytes : failOnStall(bytes, this.stallMs, () => new UnavailableError(
      `${desc.digest}: no data from the ${this.ipfs.description} for ${this.stallMs! / 1000} s while fetching ${cidText(cid)} ` +
      '(a peer may have stopped sending; rerun, or raise --timeout)'))
    return limited(guarded, desc.size - offset, desc.digest)
  }

  async close(): Promise<void> {
    if (this.ownsBackend) await this.ipfs.close()
  }
}

/**
 * `ipfs:` + a root CID (any spelling rpull takes), an IPNS name or an image reference: parsed
 * before any daemon is reached, then resolved through the IPFS ipcr would use for a pull. The
 * source owns the backend it opened.
 */
export async function openIpfsImage(ref: string, o: { ipfsApi?: string | undefined; notify?: (line: string) => void; resolveTimeoutMs?: number }): Promise<IpfsImageSource> {
  const [{ parsePullRef }, { resolvePullRef }, { openIpfs }] = await Promise.all([import('../ipfs/ref.js'), import('../ipfs/resolve.js'), import('../ipfs/select.js')])
  const parsed = parsePullRef(ref)
  const { backend, note } = await openIpfs({ api: o.ipfsApi, ...(o.notify ? { notify: o.notify } : {}) })
  o.notify?.(note)
  try {
    const resolved = await resolvePullRef(parsed, backend, { timeoutMs: o.resolveTimeoutMs ?? 60_000 })
    return new IpfsImageSource(resolved.cid, backend, undefined, true)
  } catch (err) {
    await backend.close()
    throw err
  }
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
