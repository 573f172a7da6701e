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
}

export interface IpfsPushResult extends PushResult {
  /** Which IPFS took the blocks (kubo, the embedded store, a CAR file). */
  backend: string
  ipns?: { ref: string; name: string; expires: string }
}

/**
 * `ipfs-push` as a library call: read the image from any location, convert its layers (on worker
 * threads), add every blob to IPFS (kubo, the embedded store or a CAR file) and publish its
 * reference. Progress goes to onEvent, what is done and decided to notify.
 */
export async function ipfsPush(location: ImageLocation, o: IpfsPushOptions): Promise<IpfsPushResult> {
  // --ref is checked before any work: a typo found after the push would leave an image no name points at.
  if (o.publish && o.publish.ref !== undefined) parseTaggedReference(o.publish.ref)
  const notify = o.notify ?? (() => undefined)
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
    if (!o.publish) return out
    const name = publishName(location, root, o.publish.ref)
    if (name.ref === undefined) {
      notify(`not publishing an IPNS name: ${name.why}`)
    } else if (car) {
      notify(`not publishing ${name.ref} via IPNS: a CAR file carries no IPNS records (pull it by CID)`)
    } else {
      const published = await publishPush(backend, name.ref, result.rootCid, { key: o.publish.key, lifetimeMs: o.publish.lifetimeMs, ttlMs: o.publish.ttlMs })
      out.ipns = { ref: name.ref, name: published.name, expires: published.expires.toISOString() }
      notify(`published ${name.ref} as /ipns/${published.name} (valid until ${out.ipns.expires}; renew with \`ipcr ipns republish\`)`)
    }
    return out
  } finally {
    await open.close()
  }
}
