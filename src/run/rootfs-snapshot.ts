import type { ContainerdClient } from '../containerd/client.js'
import type { CallOptions } from '../containerd/connection.js'
import { AlreadyExistsError, ContainerdError } from '../containerd/errors.js'
import type { Mount } from '../containerd/wire.js'
import { NotFoundError, UsageError } from '../errors.js'
import type { RunImage } from './image.js'

const gcSnapshotPrefix = 'containerd.io/gc.ref.snapshot.'

/** The snapshotters whose unpacked copy of the image its config's GC labels name (rpull and containerd set them). */
export async function unpackedWith(client: ContainerdClient, image: RunImage, opts?: CallOptions): Promise<string[]> {
  const top = image.chainIds[image.chainIds.length - 1]
  const labels = (await client.content.info(image.configDesc.digest, opts)).labels
  return Object.entries(labels).filter(([k, v]) => k.startsWith(gcSnapshotPrefix) && v === top).map(([k]) => k.slice(gcSnapshotPrefix.length))
}

/**
 * The snapshotter to run with: --snapshotter (or CONTAINERD_SNAPSHOTTER), else one the image is
 * already unpacked for (overlayfs first), else overlayfs, ctr's default.
 */
export async function runSnapshotter(client: ContainerdClient, image: RunImage, flag: string | undefined, opts?: CallOptions): Promise<string> {
  if (flag) return flag
  if (image.layers.length === 0) return 'overlayfs'
  const have = await unpackedWith(client, image, opts)
  return have.includes('overlayfs') ? 'overlayfs' : have[0] ?? 'overlayfs'
}

/** containerd's answer for a snapshotter it does not have, as a one-line usage error. */
function noSuchSnapshotter(err: unknown, snapshotter: string): unknown {
  if (err instanceof ContainerdError && /snapshotter not loaded/.test(err.message)) {
    return new UsageError(`containerd has no snapshotter "${snapshotter}" (see ctr plugins ls); choose another with --snapshotter`, { cause: err })
  }
  return err
}

/**
 * The container's writable rootfs: an active snapshot keyed by the container id on top of the
 * image's top chain ID, as containerd's WithNewSnapshot makes it. When the image is not unpacked for
 * this snapshotter, it is unpacked first from the layer blobs in the content store. `client` must be
 * inside a lease, which holds the snapshot until the container record does.
 */
export async function prepareRootfs(client: ContainerdClient, image: RunImage, snapshotter: string, id: string, opts: CallOptions = {}): Promise<Mount[]> {
  const snapshots = client.snapshots(snapshotter)
  const parent = image.chainIds[image.chainIds.length - 1] ?? ''
  const prepare = async (): Promise<Mount[]> => {
    try {
      return await snapshots.prepare(id, parent, opts)
    } catch (err) {
      if (err instanceof AlreadyExistsError) throw await idInUse(client, snapshotter, id, err)
      throw noSuchSnapshotter(err, snapshotter)
    }
  }
  try {
    return await prepare()
  } catch (err) {
    if (!(err instanceof NotFoundError) || parent === '') throw err
  }
  await unpackImage(client, image, snapshotter, opts)
  return prepare()
}

async function idInUse(client: ContainerdClient, snapshotter: string, id: string, cause: unknown): Promise<AlreadyExistsError> {
  const container = await client.containers.get(id).then(() => true, () => false)
  return new AlreadyExistsError(container
    ? `container "${id}" already exists (remove it with ipcr container rm ${id})`
    : `snapshot "${id}" already exists in the ${snapshotter} snapshotter, without a container (remove it with ctr snapshots --snapshotter ${snapshotter} rm ${id})`, { cause })
}

/**
 * Unpack the image for `snapshotter` from its layer blobs, as ctr run does for an image not unpacked
 * there yet. A lazy pull leaves no blobs behind: then say which snapshotter holds the image.
 */
async function unpackImage(client: ContainerdClient, image: RunImage, snapshotter: string, opts: CallOptions): Promise<void> {
  for (const layer of image.layers) {
    try {
      await client.content.info(layer.digest, opts)
    } catch (err) {
      if (!(err instanceof NotFoundError)) throw err
      const others = (await unpackedWith(client, image, opts).catch(() => [])).filter((s) => s !== snapshotter)
      const why = others.length > 0
        ? `it was pulled lazily with the ${others.join(', ')} snapshotter, which keeps layers remote; run it with --snapshotter=${others[0]}, or pull it again with --snapshotter=${snapshotter}`
        : `pull it again with --snapshotter=${snapshotter}`
      throw new NotFoundError(`image "${image.name}" is not unpacked for the ${snapshotter} snapshotter and its layer ${layer.digest} is not in containerd's content store: ${why}`, { cause: err })
    }
  }
  // Loaded only here: most runs find the image unpacked already.
  const { unpackLayers } = await import('../pull/unpack.js')
  try {
    await unpackLayers(client, {
      snapshotter, lazy: false, remoteRef: '', layers: image.layers, diffIds: image.diffIds, chainIds: image.chainIds,
      fetchLayer: async () => undefined,
    })
  } catch (err) {
    throw noSuchSnapshotter(err, snapshotter)
  }
  // As containerd's unpacker: the config holds the unpacked snapshots once the lease is gone.
  const top = image.chainIds[image.chainIds.length - 1] as string
  await client.content.updateLabels(image.configDesc.digest, { [`${gcSnapshotPrefix}${snapshotter}`]: top }, opts)
}
