import { NotFoundError } from '../errors.js'
import type { Descriptor } from '../oci/descriptor.js'
import { readAll } from '../oci/digest.js'
import { parseIndex, parseManifest, type Manifest } from '../oci/manifest.js'
import { checkJsonSize, checkLayerCount, defaultLimits, type ImageLimits } from '../oci/limits.js'
import { isIndex, isManifest } from '../oci/media-types.js'
import { describeSelection, formatPlatform, selectsPlatform, platformMatches, type PlatformSelection } from '../oci/platform.js'
import type { ImageSource } from '../oci/store.js'
import { verifiedSource } from '../oci/verified.js'

/** One platform's image: its manifest, parsed, and the config bytes. */
export interface PlatformImage {
  manifestDesc: Descriptor
  manifest: Manifest
  configDesc: Descriptor
  config: Buffer
  layers: Descriptor[]
}

/** An image's small JSON blobs, fetched and verified, and what is left to fetch: the layers. */
export interface ImageTree {
  root: Descriptor
  /** Indexes, manifests and configs with their verified bytes, children before parents. */
  json: Array<{ desc: Descriptor; bytes: Buffer }>
  images: PlatformImage[]
}

export interface TreeOptions {
  platforms: PlatformSelection
  /** Only the best match of an index (pull), or every match (copy --all-platforms). */
  one: boolean
  onFetch?: (desc: Descriptor) => void
  /** The same limits push applies; defaultLimits by default. */
  limits?: ImageLimits
}

/** Read an image top-down: root -> index -> manifest(s) for the platform -> config. */
export async function readImageTree(given: ImageSource, root: Descriptor, options: TreeOptions): Promise<ImageTree> {
  const source = verifiedSource(given)
  const json: ImageTree['json'] = []
  const images: PlatformImage[] = []

  const limits = options.limits ?? defaultLimits

  async function fetch(desc: Descriptor, kind: 'manifest' | 'config'): Promise<Buffer> {
    checkJsonSize(desc, kind, limits)
    options.onFetch?.(desc)
    return readAll(source.blob(desc))
  }

  async function visit(desc: Descriptor): Promise<void> {
    if (isIndex(desc.mediaType)) {
      const bytes = await fetch(desc, 'manifest')
      const all = parseIndex(bytes, `index ${desc.digest}`).manifests ?? []
      let chosen = all.filter((m) => selectsPlatform(options.platforms, m.platform) || (options.platforms.all && m.platform === undefined))
      if (options.one && !options.platforms.all) {
        // Prefer platforms in the order the user listed them, as containerd's Ordered matcher does.
        const order = options.platforms.only
        chosen = order.flatMap((p) => chosen.filter((m) => platformMatches(p, m.platform))).slice(0, 1)
      } else if (options.one) chosen = chosen.slice(0, 1)
      if (chosen.length === 0) {
        const available = [...new Set(all.map((m) => (m.platform ? formatPlatform(m.platform) : 'unknown')))].join(', ')
        throw new NotFoundError(`no manifest in ${source.location} matches ${describeSelection(options.platforms)} (it has: ${available || 'no manifests'}); choose with --platform`)
      }
      for (const m of chosen) await visit(m)
      json.push({ desc, bytes })
      return
    }
    if (!isManifest(desc.mediaType)) throw new NotFoundError(`${desc.digest} has media type "${desc.mediaType}", which is neither an image index nor a manifest`)
    const bytes = await fetch(desc, 'manifest')
    const manifest = parseManifest(bytes, `manifest ${desc.digest}`)
    // Refused before anything is written: a pull of 10,000 layers otherwise ran until killed.
    checkLayerCount(desc.digest, manifest.layers?.length ?? 0, limits)
    const config = await fetch(manifest.config, 'config')
    json.push({ desc: manifest.config, bytes: config }, { desc, bytes })
    images.push({ manifestDesc: desc, manifest, configDesc: manifest.config, config, layers: manifest.layers ?? [] })
  }

  await visit(root)
  return { root, json, images }
}
