import type { Descriptor } from '../oci/descriptor.js'
import { isConfig, isIndex, isLayer, isManifest } from '../oci/media-types.js'

/** containerd's label on a compressed layer naming its uncompressed digest (the diffID). */
export const uncompressedLabel = 'containerd.io/uncompressed'

const gcRef = 'containerd.io/gc.ref.content.'

/** The label prefix containerd's ChildGCLabels gives a child of this type ("…m." and "…l." get numbered). */
function childKey(mediaType: string): string {
  if (isConfig(mediaType)) return `${gcRef}config`
  if (isManifest(mediaType)) return `${gcRef}m.`
  if (isLayer(mediaType)) return `${gcRef}l.`
  return gcRef
}

/**
 * The labels containerd puts on a manifest or index so the garbage collector keeps its children
 * while the parent lives: `config`, `l.<i>` per layer, `m.<i>` per manifest, `<i>` for anything else,
 * numbered per key in the order the children appear, as images.SetChildrenMappedLabels does.
 */
export function childGcLabels(children: readonly Pick<Descriptor, 'mediaType' | 'digest'>[]): Record<string, string> {
  const labels: Record<string, string> = {}
  const counts = new Map<string, number>()
  for (const child of children) {
    let key = childKey(child.mediaType)
    const index = counts.get(key) ?? 0
    counts.set(key, index + 1)
    if (index > 0 || key.endsWith('.')) key = `${key}${index}`
    labels[key] = child.digest
  }
  return labels
}

/** The children of a manifest (config, then layers) or an index (manifests); none for other blobs. */
export function childrenOf(mediaType: string, json: unknown): Pick<Descriptor, 'mediaType' | 'digest'>[] {
  if (typeof json !== 'object' || json === null) return []
  const doc = json as { config?: unknown; layers?: unknown; manifests?: unknown }
  const list = (v: unknown): Pick<Descriptor, 'mediaType' | 'digest'>[] =>
    Array.isArray(v) ? v.filter(isChild) : isChild(v) ? [v] : []
  if (isManifest(mediaType)) return [...list(doc.config), ...list(doc.layers)]
  if (isIndex(mediaType)) return list(doc.manifests)
  return []
}

function isChild(v: unknown): v is Pick<Descriptor, 'mediaType' | 'digest'> {
  return typeof v === 'object' && v !== null && typeof (v as Descriptor).digest === 'string'
    && typeof (v as Descriptor).mediaType === 'string'
}
