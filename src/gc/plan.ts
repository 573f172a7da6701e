/** An image this node keeps pinned, as gc weighs it. */
export interface PinnedImage {
  /** containerd's name of it, and where (address, namespace). */
  image: string
  containerd: string
  namespace: string
  /** The root descriptor's CID (the first CID rpull pinned). */
  root: string
  /** Bytes its pins hold on this node. */
  size: number
  /** When it was last pulled (the pin record's time). */
  lastPulled: number
  /** Why it must stay, whatever the bounds: containerd holds it, or the cluster is asked to keep it. */
  keep?: string
}

export interface GcBounds {
  /** Keep the pinned images within this many bytes. */
  keepSize?: number
  /** Unpin what was not pulled for this long. */
  keepAgeMs?: number
}

/**
 * Which images to unpin: those past --keep-age, then, least recently pulled first, as many as it
 * takes to bring what stays pinned within --keep-size. An image that must stay is never chosen,
 * even when the bound cannot be met without it (gc then says how far over it stays).
 */
export function planCollection(images: readonly PinnedImage[], bounds: GcBounds, now: number): { remove: PinnedImage[]; total: number; after: number } {
  const total = images.reduce((n, i) => n + i.size, 0)
  const candidates = images.filter((i) => i.keep === undefined).sort((a, b) => a.lastPulled - b.lastPulled)
  const remove = new Set<PinnedImage>()
  if (bounds.keepAgeMs !== undefined) {
    for (const i of candidates) if (now - i.lastPulled > bounds.keepAgeMs) remove.add(i)
  }
  let after = total - [...remove].reduce((n, i) => n + i.size, 0)
  if (bounds.keepSize !== undefined) {
    for (const i of candidates) {
      if (after <= bounds.keepSize) break
      if (remove.has(i)) continue
      remove.add(i)
      after -= i.size
    }
  }
  return { remove: [...remove], total, after }
}
