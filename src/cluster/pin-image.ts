import { ClusterClient } from './client.js'
import { ClusterPinLedger } from './ledger.js'
import { checkReplication, replicateImage, type ImageCids, type Replication } from './replicate.js'

/** `--cluster URL` with its replication factors, as push, pull and the registry take them. */
export interface ClusterTarget {
  url: string
  replication: Replication
}

/**
 * A cluster to pin into, checked before the work that makes the image: refused when its minimum
 * cannot be met; `pin` then pins every CID and records it, so `image rm` and `gc` can unpin.
 */
export async function openClusterTarget(target: ClusterTarget, root: string): Promise<{ pin(image: ImageCids): Promise<void>; note?: string }> {
  const client = new ClusterClient(target.url)
  const checked = await checkReplication(client, target.replication)
  return {
    ...(checked ? {} : { note: `IPFS Cluster at ${client.url} does not answer now; the image is pinned through it at the end, or the command fails there` }),
    pin: async (image) => {
      await replicateImage(client, image, target.replication)
      await new ClusterPinLedger(root).record({
        cluster: client.url, name: image.name, root: image.root, cids: [...new Set(image.cids)],
        min: target.replication.min, max: target.replication.max, pinnedAt: new Date().toISOString(),
      })
    },
  }
}
