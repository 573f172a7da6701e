import type { Descriptor } from '../oci/descriptor.js'

/** containerd refuses a label whose key and value together exceed this (labels.Validate). */
const maxLabelBytes = 4096

export const SnapshotRefLabel = 'containerd.io/snapshot.ref'
/** Bytes the stargz snapshotter prefetches per layer on mount (ctr-remote's default). */
export const defaultPrefetchBytes = 10 << 20

function fits(key: string, value: string): boolean {
  return Buffer.byteLength(key) + Buffer.byteLength(value) <= maxLabelBytes
}

/** Join values with commas, dropping those that would push the label past containerd's limit. */
function joinWithin(key: string, values: readonly string[]): string {
  let out = ''
  for (const v of values) {
    const next = out === '' ? v : `${out},${v}`
    if (!fits(key, next)) break
    out = next
  }
  return out
}

/**
 * The labels that ask the stargz snapshotter to mount layer `index` remotely (wire-format.md §5):
 * what ctr-remote's handler puts on each layer. `ref` is what the snapshotter resolves the blobs
 * through: the root CID (or the image reference for IPNS pulls). Layers past the label size limit
 * are left out of the neighbour list, which only costs prefetch parallelism.
 */
export function remoteSnapshotLabels(ref: string, layers: readonly Descriptor[], index: number, chainId: string, prefetchBytes = defaultPrefetchBytes): Record<string, string> {
  const layer = layers[index] as Descriptor
  const labels: Record<string, string> = {
    [SnapshotRefLabel]: chainId,
    'containerd.io/snapshot/remote/stargz.reference': ref,
    'containerd.io/snapshot/remote/stargz.digest': layer.digest,
    'containerd.io/snapshot/remote/stargz.prefetch': String(prefetchBytes),
  }
  const layersKey = 'containerd.io/snapshot/remote/stargz.layers'
  const above = layers.slice(index)
  const listed = joinWithin(layersKey, above.map((l) => l.digest))
  labels[layersKey] = listed
  const count = listed === '' ? 0 : listed.split(',').length
  for (let i = 0; i < count; i++) {
    const key = `containerd.io/snapshot/remote/urls.${i}`
    labels[key] = joinWithin(key, above[i]?.urls ?? [])
  }
  labels['containerd.io/snapshot/remote/urls'] = joinWithin('containerd.io/snapshot/remote/urls', layer.urls ?? [])
  // containerd passes a layer's containerd.io/snapshot/* annotations (the TOC digest) through as labels.
  for (const [k, v] of Object.entries(layer.annotations ?? {})) {
    if (k.startsWith('containerd.io/snapshot/') && fits(k, v)) labels[k] = v
  }
  return labels
}
