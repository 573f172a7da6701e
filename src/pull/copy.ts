import type { Descriptor } from '../oci/descriptor.js'
import type { ImageLimits } from '../oci/limits.js'
import type { PlatformSelection } from '../oci/platform.js'
import type { ImageSink, ImageSource } from '../oci/store.js'
import { verifiedSink, verifiedSource } from '../oci/verified.js'
import { limit } from '../util/limit.js'
import { once } from '../util/once.js'
import { readImageTree, type ImageTree } from './tree.js'

export interface CopyOptions {
  platforms: PlatformSelection
  concurrency?: number
  onFetch?: (desc: Descriptor) => void
  limits?: ImageLimits
  /** Stops the copy before its next blob. */
  signal?: AbortSignal
}

/**
 * Copy an image between locations, verifying every blob as it streams: layers first (in parallel),
 * then configs, manifests and indexes, children before parents, and the name last, so an
 * interrupted copy never leaves a name pointing at a half-copied image.
 */
export async function copyImage(from: ImageSource, to: ImageSink, options: CopyOptions): Promise<ImageTree> {
  const source = verifiedSource(from)
  const sink = verifiedSink(to)
  const root = await source.root()
  const tree = await readImageTree(source, root, { platforms: options.platforms, one: !options.platforms.all, onFetch: options.onFetch, ...(options.limits ? { limits: options.limits } : {}) })
  const run = limit(options.concurrency ?? 4)
  const seen = new Set<string>()
  const layers = tree.images.flatMap((img) => img.layers).filter((l) => !seen.has(l.digest) && seen.add(l.digest))
  await Promise.all(layers.map((layer) => run(async () => {
    options.signal?.throwIfAborted()
    options.onFetch?.(layer)
    await sink.putBlob(layer, source.blob(layer))
  })))
  for (const { desc, bytes } of tree.json) await sink.putBlob(desc, once(bytes))
  await sink.tag(root)
  return tree
}
