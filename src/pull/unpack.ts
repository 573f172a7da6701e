import { randomBytes } from 'node:crypto'
import type { ContainerdClient } from '../containerd/client.js'
import { AlreadyExistsError } from '../containerd/errors.js'
import { IntegrityError, NotFoundError } from '../errors.js'
import type { Descriptor } from '../oci/descriptor.js'
import type { Digest } from '../oci/digest.js'
import type { PullEvent } from './events.js'
import { remoteSnapshotLabels, SnapshotRefLabel } from './remote-labels.js'
import { unpackInParallel } from './unpack-parallel.js'

export interface UnpackOptions {
  snapshotter: string
  /** Ask the snapshotter to mount layers remotely first (the stargz snapshotter). */
  lazy: boolean
  /** The reference the snapshotter resolves remote layers through (root CID or image ref). */
  remoteRef: string
  layers: readonly Descriptor[]
  diffIds: readonly Digest[]
  chainIds: readonly Digest[]
  /**
   * Apply layers side by side and commit each onto the one below afterwards: for snapshotters with
   * the "rebase" capability (containerd 2.2+), never with `lazy` (unpack-parallel.ts).
   */
  parallel?: boolean
  /** Make sure a layer blob is in the content store; called only for layers that must be applied. */
  fetchLayer(index: number): Promise<void>
  onEvent?: (e: PullEvent) => void
}

export interface UnpackResult { remote: number; applied: number; present: number }

async function exists(client: ContainerdClient, snapshotter: string, key: string): Promise<boolean> {
  try {
    await client.snapshots(snapshotter).stat(key)
    return true
  } catch (err) {
    if (err instanceof NotFoundError) return false
    throw err
  }
}

/**
 * Turn layers into committed snapshots named by chain ID, bottom-up, as containerd's unpacker does:
 * Prepare on the parent chain, Diff.Apply, Commit. With `lazy`, Prepare carries the remote-snapshot
 * labels first; ALREADY_EXISTS then means the snapshotter mounted the layer from IPFS itself and
 * its blob is never fetched. The client must be inside a lease.
 */
export async function unpackLayers(client: ContainerdClient, o: UnpackOptions): Promise<UnpackResult> {
  const snapshots = client.snapshots(o.snapshotter)
  const result: UnpackResult = { remote: 0, applied: 0, present: 0 }
  if (o.diffIds.length !== o.layers.length) throw new IntegrityError(`the config lists ${o.diffIds.length} diff IDs for ${o.layers.length} layers`)
  // Which layers are there already, asked of every layer at once rather than one round trip per layer
  // between applies. One committed meanwhile by another pull is caught by Prepare's ALREADY_EXISTS.
  const present = o.chainIds.map((id) => exists(client, o.snapshotter, id))
  present.forEach((p) => p.catch(() => undefined))
  if (o.parallel === true && !o.lazy) return unpackInParallel(client, o, await Promise.all(present))
  for (let i = 0; i < o.layers.length; i++) {
    const layer = o.layers[i] as Descriptor
    const chainId = o.chainIds[i] as Digest
    const parent = i === 0 ? '' : (o.chainIds[i - 1] as string)
    if (await present[i]) {
      result.present++
      o.onEvent?.({ type: 'layer-present', desc: layer, chainId })
      continue
    }
    const key = `ipcr-extract-${randomBytes(6).toString('hex')} ${chainId}`
    const labels = o.lazy ? remoteSnapshotLabels(o.remoteRef, o.layers, i, chainId) : { [SnapshotRefLabel]: chainId }
    let mounts
    try {
      mounts = await snapshots.prepare(key, parent, { labels })
    } catch (err) {
      if (err instanceof AlreadyExistsError) {
        // Remote mount (stargz), or another pull committed this chain meanwhile: either way it is there.
        result.remote += o.lazy ? 1 : 0
        result.present += o.lazy ? 0 : 1
        o.onEvent?.({ type: o.lazy ? 'layer-remote' : 'layer-present', desc: layer, chainId })
        continue
      }
      throw err
    }
    try {
      await o.fetchLayer(i)
      const applied = await client.diff.apply(layer, mounts)
      if (applied.digest !== o.diffIds[i]) {
        throw new IntegrityError(`layer ${layer.digest} unpacks to ${applied.digest}, but the config says its diff ID is ${o.diffIds[i]}`)
      }
      try {
        await snapshots.commit(chainId, key)
      } catch (err) {
        if (!(err instanceof AlreadyExistsError)) throw err
        await snapshots.remove(key).catch(() => undefined)
      }
      result.applied++
      o.onEvent?.({ type: 'layer-applied', desc: layer, chainId })
    } catch (err) {
      await snapshots.remove(key).catch(() => undefined)
      throw err
    }
  }
  return result
}
