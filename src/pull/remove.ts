import { ClusterPinLedger } from '../cluster/ledger.js'
import { releaseClusterPins } from '../cluster/release.js'
import { ContainerdClient } from '../containerd/client.js'
import { NotFoundError } from '../errors.js'
import { ipcrRoot } from '../ipfs/embedded.js'
import { PinLedger, releaseImagePins } from '../ipfs/pins.js'
import { openIpfs } from '../ipfs/select.js'

export interface RemoveOptions {
  address: string
  namespace: string
  ipfsApi?: string | undefined
  notify?: (line: string) => void
}

/**
 * `image rm`: delete image records (containerd's GC then frees what only they held), then unpin
 * on the IPFS node what `rpull` pinned for them and no other image still uses. Names containerd
 * does not have fail the call, after the others are removed.
 */
export async function removeImages(names: readonly string[], o: RemoveOptions): Promise<void> {
  const notify = o.notify ?? (() => undefined)
  const client = await ContainerdClient.connect({ address: o.address, namespace: o.namespace })
  const missing: string[] = []
  try {
    for (const name of names) {
      try {
        // The last deletion waits for GC, so content and snapshots are gone when we return.
        await client.images.delete(name, { sync: name === names[names.length - 1] })
      } catch (err) {
        if (!(err instanceof NotFoundError)) throw err
        missing.push(name)
      }
    }
  } finally {
    await client.close()
  }
  const removed = names.filter((n) => !missing.includes(n)).map((image) => ({ containerd: o.address, namespace: o.namespace, image }))
  const pins = await releaseImagePins(new PinLedger(ipcrRoot()), removed, async () => {
    const { backend } = await openIpfs({ api: o.ipfsApi })
    if (backend.pinning) return { pinning: backend.pinning, close: () => backend.close() }
    await backend.close()
    return undefined
  })
  if (pins.unpinned.length > 0) notify(`unpinned ${pins.unpinned.length} blob(s) only ${removed.length === 1 ? 'this image' : 'these images'} used`)
  for (const l of pins.left) notify(`left ${l.cids.length} pin(s) on kubo node ${l.node} (${l.why}): ${l.cids.join(' ')}`)
  // Every name given, containerd's or not: a retry after a cluster that did not answer has no image left to remove.
  const cluster = await releaseClusterPins(new ClusterPinLedger(ipcrRoot()), names)
  if (cluster.unpinned > 0) notify(`unpinned ${cluster.unpinned} CID(s) through IPFS Cluster`)
  for (const f of cluster.failed) notify(`left the cluster pins of ${f}; rerun ipcr image rm with the same name to retry`)
  if (missing.length > 0) throw new NotFoundError(`no image ${missing.map((m) => `"${m}"`).join(', ')} in containerd namespace "${o.namespace}"`)
}
