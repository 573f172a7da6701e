import type { ContainerdClient } from '../containerd/client.js'
import { childGcLabels, childrenOf } from '../containerd/gc-labels.js'
import { RebaseCapability } from '../containerd/introspection.js'
import { NotFoundError, UnavailableError } from '../errors.js'
import type { IpfsBackend } from '../ipfs/backend.js'
import { cidText, type CID } from '../ipfs/cid.js'
import type { Descriptor } from '../oci/descriptor.js'
import type { ImageLimits } from '../oci/limits.js'
import type { PlatformSelection } from '../oci/platform.js'
import { IpfsImageSource } from '../stores/ipfs.js'
import { onInterrupt } from '../util/interrupt.js'
import { limit } from '../util/limit.js'
import { adoptAbandonedPulls, pullLeaseLabels } from './abandoned-leases.js'
import { chainIds, diffIdsOf } from './chain.js'
import type { PullEvent } from './events.js'
import { readImageTree } from './tree.js'
import { unpackLayers, type UnpackResult } from './unpack.js'

export interface RpullOptions {
  rootCid: CID
  /** The image record's name in containerd: the bare CID, or the reference pulled by name. */
  name: string
  /** What the snapshotter resolves remote layers through (CID or reference). */
  remoteRef: string
  snapshotter: string
  platforms: PlatformSelection
  /** Give up on the root after this long (a CID nobody serves would otherwise be searched for forever). */
  timeoutMs: number
  concurrency?: number
  onEvent?: (e: PullEvent) => void
  /** Sizes and counts refused before anything is written; defaultLimits by default. */
  limits?: ImageLimits
  /** Stops the pull before its next layer (the lease then goes as after any failure). */
  signal?: AbortSignal
}

export interface RpullResult {
  name: string
  root: Descriptor
  manifest: Descriptor
  snapshotter: string
  layers: UnpackResult
  /** Whether layers were applied side by side (a snapshotter with the rebase capability). */
  parallel: boolean
  fetched: Descriptor[]
}

/**
 * Pull an IPFS-enabled image into containerd and unpack it, all inside one lease so that nothing
 * half-made survives a failure: verified blobs into the content store, snapshots bottom-up, and
 * the image record last. With the stargz snapshotter, layers it mounts remotely are never fetched.
 */
export async function rpull(client: ContainerdClient, ipfs: IpfsBackend, o: RpullOptions): Promise<RpullResult> {
  const emit = o.onEvent ?? (() => undefined)
  // --timeout bounds finding the root, and then every silence while a blob streams.
  const source = new IpfsImageSource(o.rootCid, ipfs, o.timeoutMs)
  const fetched: Descriptor[] = []
  // The lease is made while the root, manifest and config come from IPFS; nothing is written before it.
  // It takes over what killed pulls of the same image left (their ingests resume), and is released
  // by an interrupt as by a failure, so no pull leaves a lease for containerd's 24 h expiry.
  const leased = client.createLease({ labels: pullLeaseLabels(o.name) }).then(async (handle) => {
    await adoptAbandonedPulls(handle.client, handle.lease.id, o.name).catch(async (err: unknown) => { await handle.done({ sync: true }); throw err })
    return handle
  })
  leased.catch(() => undefined)
  const forgetInterrupt = onInterrupt(async () => (await leased.catch(() => undefined))?.done({ sync: true }))
  const lazy = o.snapshotter === 'stargz'
  // containerd 2.2+ overlayfs can commit a snapshot onto a parent it was not prepared on: layers
  // then unpack side by side (lazy pulls stay in order). Asked now, while the JSON comes from IPFS.
  const rebase = lazy ? Promise.resolve(false)
    : client.introspection.snapshotter(o.snapshotter).then((s) => s.ok && s.capabilities.includes(RebaseCapability), () => false)
  let pulled = false
  try {
    const root = await withTimeout(source.root(), o.timeoutMs, `could not find ${cidText(o.rootCid)} within ${o.timeoutMs / 1000} s (is a node that has it reachable? raise --timeout)`)
    const tree = await readImageTree(source, root, {
      platforms: o.platforms, one: true, ...(o.limits ? { limits: o.limits } : {}),
      onFetch: (desc) => { fetched.push(desc); emit({ type: 'fetch-start', desc }) },
    })
    const image = tree.images[0]
    if (!image) throw new NotFoundError(`${cidText(o.rootCid)} holds no image manifest`)
    const c = (await leased).client
    // Two layers in flight, taken in order, but the bottom layer alone first: containerd can apply
    // nothing before it is in, and beside another layer it took 95 ms longer to arrive (bench/pull).
    const run = limit(o.concurrency ?? 2)
    const layerFetches = new Map<number, Promise<void>>()
    let bottomFirst: Promise<unknown> = Promise.resolve()
    const fetchLayer = (i: number): Promise<void> => {
      let p = layerFetches.get(i)
      if (!p) {
        const layer = image.layers[i] as Descriptor
        p = (i === 0 ? Promise.resolve() : bottomFirst).then(() => run(async () => {
          o.signal?.throwIfAborted()
          fetched.push(layer)
          emit({ type: 'fetch-start', desc: layer })
          let seen = 0
          // content.write hashes what it streams against the descriptor (and containerd checks again
          // on commit). A rerun resumes an interrupted ingest at the offset containerd reports.
          const written = await c.content.write(layer, (offset: number) =>
            counted(source.blobFrom(layer, offset), (n) => { seen = offset + n; emit({ type: 'fetch-progress', desc: layer, bytes: seen }) }))
          if (written.written && written.resumedAt > 0) emit({ type: 'fetch-resumed', desc: layer, offset: written.resumedAt })
          emit({ type: 'fetch-done', desc: layer })
        }))
        layerFetches.set(i, p)
        if (i === 0) bottomFirst = p.catch(() => undefined)
      }
      return p
    }
    // Without lazy pulling every layer is needed: start fetching them all now, unpack as they land.
    // (A lazy pull fetches only layers the snapshotter declines, as unpacking reaches them.)
    if (!lazy) image.layers.forEach((_, i) => { void fetchLayer(i).catch(() => undefined) })

    // The small JSON blobs go in together while layers stream, each labelled so GC keeps what it
    // references once the lease is gone (until then the lease holds them all, in whatever order).
    await Promise.all(tree.json.map(({ desc, bytes }) => {
      const labels = childGcLabels(childrenOf(desc.mediaType, JSON.parse(bytes.toString('utf8'))))
      return c.content.write(desc, bytes, { labels })
    }))

    const diffIds = diffIdsOf(image.config, `config ${image.configDesc.digest}`)
    const chain = chainIds(diffIds)
    const parallel = await rebase
    const layers = await unpackLayers(c, {
      snapshotter: o.snapshotter, lazy, remoteRef: o.remoteRef, parallel,
      layers: image.layers, diffIds, chainIds: chain, fetchLayer, onEvent: emit,
    })
    await Promise.all(layerFetches.values())
    // The config holds the top snapshot against GC once the lease is gone, as containerd's unpacker does.
    const top = chain[chain.length - 1]
    if (top !== undefined) await c.content.updateLabels(image.configDesc.digest, { [`containerd.io/gc.ref.snapshot.${o.snapshotter}`]: top })

    await c.images.put(o.name, root)
    pulled = true
    return { name: o.name, root, manifest: image.manifestDesc, snapshotter: o.snapshotter, layers, parallel, fetched }
  } finally {
    // After a failure, a synchronous GC leaves no content or snapshot of the pull behind. After
    // success the image record references everything, so a GC would find nothing: don't wait for one.
    forgetInterrupt()
    await (await leased.catch(() => undefined))?.done({ sync: !pulled })
  }
}


async function* counted(source: AsyncIterable<Uint8Array>, progress: (n: number) => void): AsyncGenerator<Uint8Array> {
  let n = 0
  for await (const chunk of source) { n += chunk.byteLength; progress(n); yield chunk }
}

async function withTimeout<T>(work: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new UnavailableError(message)), ms) })
  try {
    return await Promise.race([work, timeout])
  } finally {
    clearTimeout(timer)
  }
}
