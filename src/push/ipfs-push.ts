import type { ConvertOptions } from '../estargz/index.js'
import type { IpfsBackend } from '../ipfs/backend.js'
import { parseCid } from '../ipfs/cid.js'
import { publishPush } from '../ipfs/publish.js'
import { openIpfs } from '../ipfs/select.js'
import { rewriteConfigDiffIds } from '../oci/go-raw-json.js'
import type { ImageLimits } from '../oci/limits.js'
import type { ImageLocation } from '../oci/location.js'
import type { PlatformSelection } from '../oci/platform.js'
import { parseTaggedReference } from '../oci/reference.js'
import { openImageSource, type OpenContext } from '../stores/open.js'
import { Closers } from '../util/closers.js'
import { openClusterTarget, type ClusterTarget } from '../cluster/pin-image.js'
import { UsageError } from '../errors.js'
import { ipcrRoot } from '../ipfs/embedded.js'
import { estargzConverter } from './estargz-layers.js'
import type { PushEvent } from './events.js'
import { publishName } from './publish-name.js'
import { pushImage, type PushResult } from './push.js'

export interface IpfsPushOptions extends OpenContext {
  platforms: PlatformSelection
  /** Convert layers to eStargz with these settings, or push them as they are. */
  estargz: ConvertOptions | false
  limits?: ImageLimits
  /** Write every block into this CAR file instead of an IPFS node. */
  car?: string
  /** Publish the image's reference via IPNS (see publish-name.ts for which), or not. */
  publish: false | { ref?: string; key?: string; lifetimeMs: number; ttlMs: number }
  onEvent?: (e: PushEvent) => void
  signal?: AbortSignal
  /** Also pin every CID of the image through this IPFS Cluster (`--cluster`). */
  cluster?: ClusterTarget
  env?: NodeJS.ProcessEnv
}

export interface IpfsPushResult extends PushResult {
  /** Which IPFS took the blocks (kubo, the embedded store, a CAR file). */
  backend: string
  ipns?: { ref: string; name: string; expires: string }
  /** The cluster every CID was pinned through. */
  cluster?: string
}

/**
 * `ipfs-push` as a library call: read the image from any location, convert its layers (on worker
 * threads), add every blob to IPFS (kubo, the embedded store or a CAR file) and publish its
 * reference. Progress goes to onEvent, what is done and decided to notify.
 */
export async function ipfsPush(location: ImageLocation, o: IpfsPushOptions): Promise<IpfsPushResult> {
  // --ref is checked before any work: a typo found after the push would leave an image no name points at.
  if (o.publish && o.publish.ref !== undefined) parseTaggedReference(o.publish.ref)
  if (o.cluster && o.car !== undefined) throw new UsageError('--cluster pins through IPFS nodes, and --car writes a file instead: choose one')
  const notify = o.notify ?? (() => undefined)
  // Checked before any work: a replication minimum the cluster cannot meet is refused up front.
  const cluster = o.cluster ? await openClusterTarget(o.cluster, ipcrRoot(o.env)) : undefined
  if (cluster?.note) notify(cluster.note)
  const open = new Closers()
  try {
    const source = open.add(await openImageSource(location, o))
    const pool = o.estargz ? open.add((await import('../estargz/index.js')).createEstargzPool()) : undefined
    // --car: every block goes into a CAR file and no IPFS node is involved (air-gapped hosts).
    const car = o.car === undefined ? undefined : open.add(await (await import('../ipfs/car-writer.js')).CarFileWriter.create(o.car))
    let backend: IpfsBackend
    if (car) {
      backend = car
      notify(`writing every block to ${car.path}; no IPFS node is involved`)
    } else {
      const opened = await openIpfs({ api: o.ipfsApi, ...(o.notify ? { notify: o.notify } : {}) })
      backend = open.add(opened.backend)
      notify(opened.note)
    }
    o.signal?.throwIfAborted()
    const root = await source.root()
    const result = await pushImage(source, backend, {
      platforms: o.platforms, ...(o.signal ? { signal: o.signal } : {}), ...(o.limits ? { limits: o.limits } : {}), ...(o.onEvent ? { onEvent: o.onEvent } : {}),
      ...(pool && o.estargz ? { convertLayer: estargzConverter(pool, o.estargz, o.limits ? { limits: o.limits } : {}), rewriteConfig: rewriteConfigDiffIds } : {}),
    })
    o.signal?.throwIfAborted()
    const out: IpfsPushResult = { ...result, backend: backend.description }
    // Root descriptor first, then every blob: descriptors link blobs by URL only, so `dag import` pins each root.
    if (car) await car.finish([parseCid(result.rootCid), ...result.blobs.flatMap((b) => (b.cid ? [parseCid(b.cid)] : []))])
    // The image's name: what IPNS publishes it as, and what the cluster names its pins.
    const name = publishName(location, root, o.publish ? o.publish.ref : undefined)
    if (o.publish) {
      if (name.ref === undefined) {
        notify(`not publishing an IPNS name: ${name.why}`)
      } else if (car) {
        notify(`not publishing ${name.ref} via IPNS: a CAR file carries no IPNS records (pull it by CID)`)
      } else {
        const published = await publishPush(backend, name.ref, result.rootCid, { key: o.publish.key, lifetimeMs: o.publish.lifetimeMs, ttlMs: o.publish.ttlMs, ...(o.env ? { env: o.env } : {}) })
        out.ipns = { ref: name.ref, name: published.name, expires: published.expires.toISOString() }
        notify(`published ${name.ref} as /ipns/${published.name} (valid until ${out.ipns.expires}; renew with \`ipcr ipns republish\`)`)
      }
    }
    if (cluster && o.cluster) {
      // Last: the push is done and recorded whatever the cluster says, and a rerun (every block is in IPFS already) pins.
      const cids = [result.rootCid, ...result.blobs.flatMap((b) => (b.cid ? [b.cid] : []))]
      await cluster.pin({ name: name.ref ?? result.rootCid, root: result.rootCid, cids })
      out.cluster = o.cluster.url
      notify(`pinned ${cids.length} CIDs through IPFS Cluster ${o.cluster.url} (replication min ${o.cluster.replication.min || 'default'}, max ${o.cluster.replication.max || 'default'})`)
    }
    return out
  } finally {
    await open.close()
  }
}
