import { ClusterUnavailableError, ReplicationError } from './errors.js'
import type { ClusterClient } from './client.js'

/** How many copies: IPFS Cluster's replication factors; 0 leaves each to the cluster's own default. */
export interface Replication {
  min: number
  max: number
}

/** An IPFS-enabled image as the cluster is asked to keep it: its name and every CID it consists of. */
export interface ImageCids {
  /** The reference it was pushed or pulled as, else its root CID: what `ipfs-cluster-ctl pin ls` shows. */
  name: string
  root: string
  /** The root descriptor's CID first, then every manifest, config and layer. */
  cids: string[]
}

/**
 * Refuse what the cluster cannot do before any work: a minimum above the number of peers that
 * answer could never be met, and the cluster would only report the pins as errors later. A
 * cluster that does not answer is not refused here: the push goes on and pinning fails after it,
 * so the push is recorded and a rerun pins.
 */
export async function checkReplication(client: ClusterClient, r: Replication): Promise<{ peers: number } | undefined> {
  if (r.max > 0 && r.min > r.max) throw new ReplicationError(`--replication-min ${r.min} is above --replication-max ${r.max}`)
  let peers
  try {
    peers = (await client.peers()).filter((p) => p.error === undefined)
  } catch (err) {
    if (err instanceof ClusterUnavailableError) return undefined
    throw err
  }
  if (r.min > peers.length) {
    throw new ReplicationError(`--replication-min ${r.min} cannot be met: the IPFS Cluster at ${client.url} has ${peers.length} peer${peers.length === 1 ? '' : 's'}`)
  }
  return { peers: peers.length }
}

/**
 * Pin every CID of the image through the cluster, not the root alone: the root is a raw JSON
 * block whose descriptor links the rest by URL only, so a recursive pin of it would replicate one
 * block. Each pin carries the image's name and root as metadata, so `ipfs-cluster-ctl pin ls`
 * says what it belongs to.
 */
export async function replicateImage(client: ClusterClient, image: ImageCids, r: Replication): Promise<void> {
  for (const cid of new Set(image.cids)) {
    await client.pin(cid, {
      name: image.name, replicationMin: r.min, replicationMax: r.max,
      metadata: { 'ipcr-root': image.root, ...(cid === image.root ? { 'ipcr-part': 'root' } : {}) },
    })
  }
}
