import { openClusterTarget, type ClusterTarget } from '../cluster/pin-image.js'
import { ContainerdClient } from '../containerd/client.js'
import { chooseSnapshotter } from '../containerd/snapshotter-choice.js'
import { withContext } from '../errors.js'
import { cidText } from '../ipfs/cid.js'
import { ipcrRoot } from '../ipfs/embedded.js'
import { PinLedger, PinQuery, pinPulledImage } from '../ipfs/pins.js'
import { openPullSource } from '../ipfs/pull-source.js'
import { parsePullRef, type PullRef } from '../ipfs/ref.js'
import { resolvePullRef } from '../ipfs/resolve.js'
import type { ImageLimits } from '../oci/limits.js'
import type { Platform } from '../oci/platform.js'
import { cidOfDescriptor } from '../stores/ipfs.js'
import { Closers } from '../util/closers.js'
import type { PullEvent } from './events.js'
import { rpull, type RpullResult } from './rpull.js'

export interface IpfsPullOptions {
  address: string
  namespace: string
  ipfsApi?: string | undefined
  /** Trustless gateways to fetch through instead of kubo, or a CAR file to read. */
  gateways?: string[] | undefined
  car?: string | undefined
  /** A snapshotter by name; default stargz where containerd has it and the pull goes through kubo, else overlayfs. */
  snapshotter?: string | undefined
  platform: Platform
  timeoutMs: number
  /** Pin what was fetched where the IPFS node can pin (kubo), so it serves the image to its peers. */
  pin: boolean
  limits?: ImageLimits
  onEvent?: (e: PullEvent) => void
  notify?: (line: string) => void
  signal?: AbortSignal
  /** Also pin what was pulled through this IPFS Cluster (`--cluster`), so the cluster keeps its copies. */
  cluster?: ClusterTarget
}

export interface IpfsPullResult extends RpullResult {
  rootCid: string
  /** The pins made on the node, when it pins. */
  pins?: { node: string; pinned: string[]; cids: number }
  /** The cluster the image's CIDs were pinned through. */
  cluster?: string
}

/**
 * `rpull --ipfs` as a library call: reach IPFS (kubo, gateways or a CAR) and containerd at once,
 * resolve what was given to a root CID, pull and unpack the image, and pin what was fetched on a
 * node that pins. `input` is parsed before either daemon is reached; undefined means a CAR's first root.
 */
export async function ipfsPull(input: string | undefined, o: IpfsPullOptions): Promise<IpfsPullResult> {
  const given: PullRef | undefined = input === undefined ? undefined : parsePullRef(input)
  const notify = o.notify ?? (() => undefined)
  const cluster = o.cluster ? await openClusterTarget(o.cluster, ipcrRoot()) : undefined
  if (cluster?.note) notify(cluster.note)
  const open = new Closers()
  try {
    const [source, connected] = await Promise.allSettled([
      openPullSource({ api: o.ipfsApi, gateways: o.gateways, car: o.car, notify }),
      ContainerdClient.connect({ address: o.address, namespace: o.namespace }),
    ])
    if (source.status === 'fulfilled') open.add(source.value.backend)
    if (connected.status === 'fulfilled') open.add(connected.value)
    if (source.status === 'rejected') throw source.reason
    if (connected.status === 'rejected') throw connected.reason
    const { backend, note, firstRoot, lazy } = source.value
    const client = connected.value
    notify(note)
    // The node is asked which CIDs are pinned as the pull meets them, so that pinning adds little at the end.
    const pinQuery = o.pin && backend.pinning ? new PinQuery(backend.pinning) : undefined
    const onEvent = (e: PullEvent): void => {
      if (e.type === 'fetch-start') void pinQuery?.isPinned(cidText(cidOfDescriptor(e.desc)))
      o.onEvent?.(e)
    }
    const resolved = await resolvePullRef(given ?? parsePullRef(firstRoot ?? ''), backend, { timeoutMs: o.timeoutMs })
    void pinQuery?.isPinned(cidText(resolved.cid))
    const snapshotter = lazy || o.snapshotter ? await chooseSnapshotter(client, o.snapshotter)
      : { name: 'overlayfs', why: `the stargz snapshotter reads lazy layers through its own kubo, not the ${backend.description}` }
    notify(`using the ${snapshotter.name} snapshotter (${snapshotter.why})`)
    const result = await rpull(client, backend, {
      rootCid: resolved.cid, name: resolved.name, remoteRef: resolved.remoteRef, snapshotter: snapshotter.name,
      platforms: { all: false, only: [o.platform] }, timeoutMs: o.timeoutMs, onEvent, ...(o.limits ? { limits: o.limits } : {}), ...(o.signal ? { signal: o.signal } : {}),
    })
    notify(`pulled ${result.name}: ${result.layers.remote} layer(s) mounted lazily, ${result.layers.applied} unpacked${result.parallel ? ' side by side' : ''}, ${result.layers.present} already present`)
    const out: IpfsPullResult = { ...result, rootCid: cidText(resolved.cid) }
    if (pinQuery) {
      const cids = [cidText(resolved.cid), ...result.fetched.map((d) => cidText(cidOfDescriptor(d)))]
      const image = { containerd: o.address, namespace: o.namespace, image: result.name }
      const pins = await withContext(`pulled ${result.name} but could not pin it on kubo`, () => pinPulledImage(pinQuery, new PinLedger(ipcrRoot()), image, cids))
      out.pins = { ...pins, cids: new Set(cids).size }
      notify(`pinned ${out.pins.cids} blob(s) on kubo node ${pins.node} (${pins.pinned.length} new pin(s)), so it serves this image to its peers`)
    }
    if (cluster && o.cluster) {
      const cids = [out.rootCid, ...result.fetched.map((d) => cidText(cidOfDescriptor(d)))]
      await withContext(`pulled ${result.name} but could not pin it through IPFS Cluster`, () => cluster.pin({ name: given?.kind === 'ref' ? given.ref : result.name, root: out.rootCid, cids }))
      out.cluster = o.cluster.url
      notify(`pinned ${new Set(cids).size} CIDs through IPFS Cluster ${o.cluster.url}`)
    }
    return out
  } finally {
    await open.close()
  }
}
