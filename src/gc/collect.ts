import { ClusterClient } from '../cluster/client.js'
import { ClusterPinLedger } from '../cluster/ledger.js'
import { ContainerdClient } from '../containerd/client.js'
import { NotFoundError, UsageError } from '../errors.js'
import { ipcrRoot } from '../ipfs/embedded.js'
import { PinLedger, releaseImagePins, type PinRecord } from '../ipfs/pins.js'
import { openIpfs } from '../ipfs/select.js'
import { planCollection, type GcBounds, type PinnedImage } from './plan.js'

export interface GcOptions extends GcBounds {
  ipfsApi?: string | undefined
  /** Only say what would go. */
  dryRun: boolean
  /** Ask this cluster too whether it is to keep an image (besides the pins this machine made through it). */
  cluster?: string
  notify?: (line: string) => void
  env?: NodeJS.ProcessEnv
  now?: number
}

export interface GcResult {
  images: PinnedImage[]
  removed: PinnedImage[]
  /** Bytes the pinned images hold, before and after. */
  pinnedBefore: number
  pinnedAfter: number
  /** kubo's repo size before and after its GC (undefined on a dry run). */
  repo?: { before: number; after: number }
}

/**
 * `ipcr gc`: unpin the images this node pulled (rpull --pin) that are beyond --keep-size or
 * --keep-age, least recently pulled first, never one containerd still holds and never one IPFS
 * Cluster is asked to keep; then kubo's repo GC, which frees their blocks and whatever the node
 * cached unpinned (a registry mirror's reads).
 */
export async function collectGarbage(o: GcOptions): Promise<GcResult> {
  if (o.keepSize === undefined && o.keepAgeMs === undefined) throw new UsageError('say what to keep: --keep-size SIZE and/or --keep-age DURATION')
  const notify = o.notify ?? (() => undefined)
  const { backend, note } = await openIpfs({ api: o.ipfsApi })
  notify(note)
  try {
    const pinning = backend.pinning
    if (!pinning) throw new UsageError(`${backend.description} keeps no pins to collect: gc works on a kubo node`)
    const node = await pinning.peerId()
    const ledger = new PinLedger(ipcrRoot(o.env))
    const records = (await ledger.list()).filter((r) => r.node === node)
    const keptByCluster = clusterKeeps(o, notify)
    const images: PinnedImage[] = []
    for (const r of records) {
      const root = r.cids[0] ?? ''
      const sizes = await Promise.all(r.owned.map((cid) => pinning.sizeOf(cid).catch(() => 0)))
      const held = await heldByContainerd(r)
      const keep = held ? `containerd holds it (namespace ${r.namespace})` : (await keptByCluster(root)) ? 'IPFS Cluster is asked to keep it' : undefined
      images.push({ image: r.image, containerd: r.containerd, namespace: r.namespace, root, size: sizes.reduce((a, b) => a + b, 0), lastPulled: Date.parse(r.pinnedAt), ...(keep ? { keep } : {}) })
    }
    const plan = planCollection(images, o, o.now ?? Date.now())
    const result: GcResult = { images, removed: plan.remove, pinnedBefore: plan.total, pinnedAfter: plan.after }
    if (o.dryRun || plan.remove.length === 0) return result
    const before = await pinning.repoSize()
    const released = await releaseImagePins(ledger, plan.remove.map((i) => ({ containerd: i.containerd, namespace: i.namespace, image: i.image })),
      async () => ({ pinning, close: async () => undefined }))
    notify(`unpinned ${released.unpinned.length} CID(s) of ${plan.remove.length} image(s); running kubo's repo GC`)
    await pinning.collectGarbage()
    result.repo = { before, after: await pinning.repoSize() }
    return result
  } finally {
    await backend.close()
  }
}

/** Whether containerd still has the image the record was pulled as. */
async function heldByContainerd(r: PinRecord): Promise<boolean> {
  const client = await ContainerdClient.connect({ address: r.containerd, namespace: r.namespace })
  try {
    await client.images.get(r.image)
    return true
  } catch (err) {
    if (err instanceof NotFoundError) return false
    throw err
  } finally {
    await client.close()
  }
}

/**
 * Whether the cluster is asked to keep a root: one this machine pinned through a cluster, or, with
 * --cluster, one that cluster holds a pin for. A cluster that does not answer keeps everything:
 * not knowing is no licence to unpin.
 */
function clusterKeeps(o: GcOptions, notify: (line: string) => void): (root: string) => Promise<boolean> {
  const recorded = new ClusterPinLedger(ipcrRoot(o.env)).list().then((rs) => new Set(rs.map((r) => r.root)))
  const client = o.cluster === undefined ? undefined : new ClusterClient(o.cluster)
  let warned = false
  return async (root) => {
    if ((await recorded).has(root)) return true
    if (!client) return false
    try {
      return (await client.allocation(root)) !== undefined
    } catch (err) {
      if (!warned) notify(`${(err as Error).message}; keeping every image it might hold`)
      warned = true
      return true
    }
  }
}
