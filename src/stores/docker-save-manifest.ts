import { IntegrityError } from '../errors.js'
import type { Descriptor } from '../oci/descriptor.js'
import { digestHex, type Digest } from '../oci/digest.js'
import { parseIndex, parseManifest } from '../oci/manifest.js'
import { isIndex, isManifest } from '../oci/media-types.js'
import { hostPlatform, platformMatches } from '../oci/platform.js'

/** One entry of a `docker save` manifest.json (Go's field names; docker load reads exactly these). */
export interface SaveManifestEntry {
  Config: string
  RepoTags: string[] | null
  Layers: string[]
}

/** Where a blob lives inside the archive: the OCI layout's path, which docker load takes as is. */
export function blobPath(digest: Digest): string {
  return `blobs/sha256/${digestHex(digest)}`
}

/**
 * The one platform manifest docker load gets for an image. docker load has no notion of platform
 * (one entry, one config, one set of tags), so an index is resolved here as containerd's exporter
 * resolves it for `docker save`: among the manifests the archive holds, the host's platform if
 * present, else the first. index.json keeps the whole index for `ctr images import --all-platforms`.
 */
function chooseManifest(root: Descriptor, held: ReadonlyMap<Digest, Buffer>): Descriptor | undefined {
  const candidates: Descriptor[] = []
  const visit = (desc: Descriptor): void => {
    const bytes = held.get(desc.digest)
    if (bytes === undefined) return // a platform left out of the copy
    if (isManifest(desc.mediaType)) candidates.push(desc)
    else if (isIndex(desc.mediaType)) for (const child of parseIndex(bytes, `index ${desc.digest}`).manifests ?? []) visit(child)
  }
  visit(root)
  const host = hostPlatform()
  return candidates.find((m) => platformMatches(host, m.platform)) ?? candidates[0]
}

/** manifest.json's entry for `root`, whose manifests and indexes are in `held` (by digest). */
export function saveManifestEntry(root: Descriptor, held: ReadonlyMap<Digest, Buffer>, repoTag: string | undefined): SaveManifestEntry {
  const chosen = chooseManifest(root, held)
  if (chosen === undefined) throw new IntegrityError(`${root.digest} (${root.mediaType}) leads to no image manifest that was written to the archive`)
  const manifest = parseManifest(held.get(chosen.digest) as Buffer, `manifest ${chosen.digest}`)
  return {
    Config: blobPath(manifest.config.digest),
    RepoTags: repoTag === undefined ? null : [repoTag],
    Layers: (manifest.layers ?? []).map((l) => blobPath(l.digest)),
  }
}
