import type { IpfsBackend } from '../ipfs/backend.js'
import type { CID } from '../ipfs/cid.js'
import { IntegrityError } from '../errors.js'
import type { Descriptor } from '../oci/descriptor.js'
import { readAll, verifyStream, type Digest } from '../oci/digest.js'
import { checkJsonSize } from '../oci/limits.js'
import { parseIndex, parseManifest } from '../oci/manifest.js'
import { isIndex, isManifest } from '../oci/media-types.js'
import { cidOfDescriptor, IpfsImageSource } from './ipfs.js'

/** One thing an image references: its descriptor, the CID its ipfs:// URL names and, for a manifest or index, its bytes. */
export interface TableEntry {
  desc: Descriptor
  cid: CID
  /** The verified JSON of an index or manifest (small, and served as is); undefined for configs and layers. */
  manifest?: Buffer
}

/** An IPFS-enabled image walked once: its target and every descriptor below it, by digest. */
export interface ImageTable {
  root: CID
  target: TableEntry & { manifest: Buffer }
  entries: ReadonlyMap<Digest, TableEntry>
}

/** Indexes inside indexes: deeper than this is not an image but a trap. */
const maxDepth = 4

/**
 * Walk an image from its root descriptor: the target index or manifest, every manifest of every
 * platform, their configs and layers. JSON is read through IpfsImageSource (only ipfs:// URLs are
 * followed) and checked against its digest before it is believed. Every read obeys `signal`:
 * `rootSignal` bounds the root descriptor alone, so a root IPFS cannot find fails fast (the caller's
 * 404), while the rest of the walk may take longer.
 */
export async function walkImage(root: CID, ipfs: IpfsBackend, o: { rootSignal: AbortSignal; signal: AbortSignal }): Promise<ImageTable> {
  const rootDesc = await new IpfsImageSource(root, withSignal(ipfs, o.rootSignal)).root()
  const source = new IpfsImageSource(root, withSignal(ipfs, o.signal))
  const entries = new Map<Digest, TableEntry>()

  const readJson = async (desc: Descriptor): Promise<Buffer> => {
    checkJsonSize(desc, 'manifest')
    return readAll(verifyStream(desc, source.blob(desc)))
  }
  const visit = async (desc: Descriptor, depth: number): Promise<TableEntry> => {
    const known = entries.get(desc.digest)
    if (known) return known
    const entry: TableEntry = { desc, cid: cidOfDescriptor(desc) }
    entries.set(desc.digest, entry)
    if (isIndex(desc.mediaType)) {
      if (depth > maxDepth) throw new IntegrityError(`${desc.digest}: indexes nested deeper than ${maxDepth}`)
      entry.manifest = await readJson(desc)
      for (const child of parseIndex(entry.manifest, desc.digest).manifests ?? []) await visit(child, depth + 1)
    } else if (isManifest(desc.mediaType)) {
      entry.manifest = await readJson(desc)
      const m = parseManifest(entry.manifest, desc.digest)
      for (const blob of [m.config, ...(m.layers ?? [])]) {
        if (!entries.has(blob.digest)) entries.set(blob.digest, { desc: blob, cid: cidOfDescriptor(blob) })
      }
    }
    return entry
  }
  const target = await visit(rootDesc, 0)
  if (target.manifest === undefined) throw new IntegrityError(`root ${rootDesc.digest} points at ${rootDesc.mediaType}, neither an index nor a manifest`)
  return { root, target: target as ImageTable['target'], entries }
}

/** The backend with every read bound to `signal` (and to the caller's own, when it passes one). */
function withSignal(ipfs: IpfsBackend, signal: AbortSignal): IpfsBackend {
  return {
    description: ipfs.description,
    add: (bytes, options) => ipfs.add(bytes, options),
    cat: (cid, options = {}) => ipfs.cat(cid, { ...options, signal: options.signal ? AbortSignal.any([signal, options.signal]) : signal }),
    ipns: () => ipfs.ipns(),
    close: () => Promise.resolve(),
  }
}
