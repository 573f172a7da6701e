import type { Descriptor } from '../../oci/descriptor.js'
import { sha256Digest } from '../../oci/digest.js'
import { marshalIndex, marshalManifest, parseIndex, parseManifest } from '../../oci/manifest.js'
import { isIndex } from '../../oci/media-types.js'

/**
 * A registry stores descriptors' URLs only when they are http(s): CNCF distribution refuses any
 * other scheme ("invalid URL on layer"), and so would a client following them. An IPFS-enabled
 * image names every blob by `ipfs://CID`; in a registry the blobs themselves are there, so those
 * URLs are dropped. That changes the manifest's digest, so an index names its rewritten children
 * by their new digests (`moved`, filled as children are pushed first).
 *
 * Returns undefined when nothing needs to change: a manifest is then stored byte for byte.
 */
export function registryManifest(bytes: Uint8Array, mediaType: string, moved: ReadonlyMap<string, Descriptor>): Uint8Array | undefined {
  let changed = false
  const fix = (d: Descriptor): Descriptor => {
    const target = moved.get(d.digest)
    const urls = d.urls?.filter((u) => /^https?:\/\//i.test(u))
    if (target === undefined && urls?.length === d.urls?.length) return d
    changed = true
    const { urls: _dropped, ...rest } = d
    return { ...rest, ...(target ? { digest: target.digest, size: target.size } : {}), ...(urls?.length ? { urls } : {}) }
  }
  if (isIndex(mediaType)) {
    const index = parseIndex(bytes)
    const out = marshalIndex({ ...index, manifests: index.manifests?.map(fix) ?? null, ...(index.subject ? { subject: fix(index.subject) } : {}) })
    return changed ? Buffer.from(out) : undefined
  }
  const m = parseManifest(bytes)
  const out = marshalManifest({ ...m, config: fix(m.config), layers: m.layers?.map(fix) ?? null, ...(m.subject ? { subject: fix(m.subject) } : {}) })
  return changed ? Buffer.from(out) : undefined
}

/** The descriptor of rewritten bytes: same type and annotations, new digest and size. */
export function describeRewritten(desc: Descriptor, bytes: Uint8Array): Descriptor {
  return { ...desc, digest: sha256Digest(bytes), size: bytes.byteLength }
}
