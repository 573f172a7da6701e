import { IpcrError } from '../errors.js'
import type { IpfsBackend } from '../ipfs/backend.js'
import { ipfsUrlOf, shortDigest, type Descriptor } from '../oci/descriptor.js'
import type { ImageSource } from '../oci/store.js'

/** A source that can tell a blob it lacks from one it holds (an OCI layout). */
export interface SourceWithGaps extends ImageSource {
  hasBlob(desc: Descriptor): Promise<boolean>
}

/** The IPFS to read from, opened only when a blob is first missing, so a complete source never reaches a daemon. */
export type OpenIpfs = () => Promise<IpfsBackend>

/**
 * `source`, with each blob it lacks read from IPFS when its descriptor carries an `ipfs://` URL.
 *
 * skopeo (containers/image) treats every layer whose descriptor lists URLs as foreign, and an `oci:`
 * destination keeps foreign layers by reference: copying an IPFS-enabled image from ipcr's registry
 * gives a layout with the manifest and config but no layer blobs. image-layout.md allows a layout
 * whose blobs can be fetched from elsewhere, and the descriptor says where: the same CID rpull follows.
 * A blob absent with no `ipfs://` URL fails as the source says (we follow no other scheme). Bytes
 * from IPFS are only as trusted as any others: the caller's verifiedSource checks them.
 */
export function fillFromIpfs(source: SourceWithGaps, openIpfs: OpenIpfs, notify?: (line: string) => void): ImageSource {
  return new IpfsFilledSource(source, openIpfs, notify)
}

class IpfsFilledSource implements ImageSource {
  readonly location: string
  private ipfs: Promise<IpfsBackend> | undefined

  constructor(private readonly source: SourceWithGaps, private readonly openIpfs: OpenIpfs, private readonly notify?: (line: string) => void) {
    this.location = source.location
  }

  root(): Promise<Descriptor> {
    return this.source.root()
  }

  async *blob(desc: Descriptor): AsyncGenerator<Uint8Array> {
    const url = ipfsUrlOf(desc)
    if (url === undefined || await this.source.hasBlob(desc)) {
      yield* this.source.blob(desc)
      return
    }
    try {
      // Loaded here, not above: a layout that holds every blob never loads the IPFS code.
      const { cidOfDescriptor } = await import('./ipfs.js')
      const cid = cidOfDescriptor(desc)
      const ipfs = await this.backend() // first, so that which IPFS is used is said before what is read from it
      this.notify?.(`${shortDigest(desc)} is not in ${this.location}: reading it from ${url}, as its descriptor says`)
      yield* ipfs.cat(cid)
    } catch (err) {
      if (err instanceof IpcrError) err.message = `${desc.digest} is missing from ${this.location} and could not be read from ${url}: ${err.message}`
      throw err
    }
  }

  async close(): Promise<void> {
    const opened = this.ipfs
    this.ipfs = undefined
    try {
      await this.source.close()
    } finally {
      await (await opened?.catch(() => undefined))?.close()
    }
  }

  /** One backend for every blob filled, however many are read at once. */
  private backend(): Promise<IpfsBackend> {
    this.ipfs ??= this.openIpfs()
    return this.ipfs
  }
}
