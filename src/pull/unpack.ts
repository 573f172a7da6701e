import { randomBytes } from 'node:crypto'
import type { ContainerdClient } from '../containerd/client.js'
import { AlreadyExistsError } from '../containerd/errors.js'
import { IntegrityError, NotFoundError } from '../errors.js'
import type { Descriptor } from '../oci/descriptor.js'
import type { Digest } from '../oci/digest.js'
import type { Mount } from '../containerd/wire.js'
import type { Tap } from '../util/tap.js'
import type { PullEvent } from './events.js'
import { remoteSnapshotLabels, SnapshotRefLabel } from './remote-labels.js'
import { applyWhileFetching } from './stream-apply.js'

export interface UnpackOptions {
  snapshotter: string
  /** Ask the snapshotter to mount layers remotely first (the stargz snapshotter). */
  lazy: boolean
  /** The reference the snapshotter resolves remote layers through (root CID or image ref). */
  remoteRef: string
  layers: readonly Descriptor[]
  diffIds: readonly Digest[]
  chainIds: readonly Digest[]
  /** Make sure a layer blob is in the content store; called only for layers that must be applied. */
  fetchLayer(index: number): Promise<void>
  /**
   * The bottom layer's gzip bytes as they are fetched, to unpack it while it arrives
   * (pull/stream-apply.ts). unpackLayers stops the tap whenever it does not read it.
   */
  bottomTap?: Tap<Uint8Array> | undefined
  onEvent?: (e: PullEvent) => void
}

/** How each layer got there; `streamed` counts the applied layers unpacked while they were fetched. */
export interface UnpackResult { remote: number; applied: number; present: number; streamed: number }

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
  const result: UnpackResult = { remote: 0, applied: 0, present: 0, streamed: 0 }
  if (o.diffIds.length !== o.layers.length) throw new IntegrityError(`the config lists ${o.diffIds.length} diff IDs for ${o.layers.length} layers`)
  // Which layers are there already, asked of every layer at once rather than one round trip per layer
  // between applies. One committed meanwhile by another pull is caught by Prepare's ALREADY_EXISTS.
  const present = o.chainIds.map((id) => exists(client, o.snapshotter, id))
  present.forEach((p) => p.catch(() => undefined))
  for (let i = 0; i < o.layers.length; i++) {
    const tap = i === 0 ? o.bottomTap : undefined
    try {
      const how = await unpackLayer(client, o, i, present[i] as Promise<boolean>, tap)
      result[how]++
      if (how === 'streamed') result.applied++
    } finally {
      tap?.stop()
    }
  }
  return result
}

async function unpackLayer(client: ContainerdClient, o: UnpackOptions, i: number, present: Promise<boolean>, tap: Tap<Uint8Array> | undefined): Promise<'remote' | 'applied' | 'present' | 'streamed'> {
  const snapshots = client.snapshots(o.snapshotter)
  const layer = o.layers[i] as Descriptor
  const chainId = o.chainIds[i] as Digest
  const diffId = o.diffIds[i] as Digest
  const parent = i === 0 ? '' : (o.chainIds[i - 1] as string)
  if (await present) {
    o.onEvent?.({ type: 'layer-present', desc: layer, chainId })
    return 'present'
  }
  const labels = o.lazy ? remoteSnapshotLabels(o.remoteRef, o.layers, i, chainId) : { [SnapshotRefLabel]: chainId }
  const prepare = async (): Promise<{ key: string; mounts: Mount[] }> => {
    const key = `ipcr-extract-${randomBytes(6).toString('hex')} ${chainId}`
    return { key, mounts: await snapshots.prepare(key, parent, { labels }) }
  }
  let active
  try {
    active = await prepare()
  } catch (err) {
    if (err instanceof AlreadyExistsError) {
      // Remote mount (stargz), or another pull committed this chain meanwhile: either way it is there.
      o.onEvent?.({ type: o.lazy ? 'layer-remote' : 'layer-present', desc: layer, chainId })
      return o.lazy ? 'remote' : 'present'
    }
    throw err
  }
  let streamed = false
  try {
    if (tap !== undefined && parent === '') {
      try {
        await applyWhileFetching(client, { layer, diffId, mounts: active.mounts, compressed: tap })
        await o.fetchLayer(i)
        streamed = true
      } catch (err) {
        tap.stop()
        // A blob that failed its own check explains the failure best; a wrong diff ID is final.
        await o.fetchLayer(i)
        if (err instanceof IntegrityError) throw err
        // Anything else (a whiteout in the base layer, a tar our reader refuses, a resumed fetch):
        // the layer is applied whole, on a fresh snapshot.
        await snapshots.remove(active.key).catch(() => undefined)
        active = await prepare()
      }
    }
    if (!streamed) {
      await o.fetchLayer(i)
      const applied = await client.diff.apply(layer, active.mounts)
      if (applied.digest !== diffId) {
        throw new IntegrityError(`layer ${layer.digest} unpacks to ${applied.digest}, but the config says its diff ID is ${diffId}`)
      }
    }
    try {
      await snapshots.commit(chainId, active.key)
    } catch (err) {
      if (!(err instanceof AlreadyExistsError)) throw err
      await snapshots.remove(active.key).catch(() => undefined)
    }
    o.onEvent?.({ type: 'layer-applied', desc: layer, chainId, streamed })
    return streamed ? 'streamed' : 'applied'
  } catch (err) {
    await snapshots.remove(active.key).catch(() => undefined)
    throw err
  }
}
