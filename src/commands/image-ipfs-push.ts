import type { CommandResult, GlobalOptions } from '../cli/globals.js'
import { log } from '../cli/log.js'
import { pushProgress } from '../cli/push-progress.js'
import { UsageError } from '../errors.js'
import { publishPush } from '../ipfs/publish.js'
import { openIpfs } from '../ipfs/select.js'
import { CarFileWriter } from '../ipfs/car-writer.js'
import { parseCid } from '../ipfs/cid.js'
import { parseLocation, type ImageLocation } from '../oci/location.js'
import { openImageSource } from '../stores/open.js'
import { parseTaggedReference, ReferenceError } from '../oci/reference.js'
import { hostPlatform, parsePlatform, type PlatformSelection } from '../oci/platform.js'
import type { Descriptor } from '../oci/descriptor.js'
import { pushImage } from '../push/push.js'
import { estargzConverter } from '../push/estargz-layers.js'
import { rewriteConfigDiffIds } from '../oci/go-raw-json.js'
import { estargzOptionsFrom } from '../cli/estargz-options.js'
import { limitsFrom } from '../cli/limit-options.js'
import { parseDuration } from '../util/duration.js'

interface Options {
  estargz: boolean; platform?: string[]; allPlatforms: boolean; json: boolean
  ipns: boolean; ipnsKey?: string; ipnsLifetime: string; ipnsTtl: string; ref?: string; car?: string
}

/** The reference to publish: --ref, else the containerd name as typed, else the layout's image name annotation. */
function referenceOf(loc: ImageLocation, root: Descriptor, flag: string | undefined): string | undefined {
  if (flag) return flag
  if (loc.kind === 'containerd') return loc.name
  return root.annotations?.['io.containerd.image.name']
}

/** Why a name taken from the image cannot be published (an image rpull fetched by CID is named by that CID), or undefined. */
function unpublishable(name: string): ReferenceError | undefined {
  try {
    parseTaggedReference(name)
    return undefined
  } catch (err) {
    if (err instanceof ReferenceError) return err
    throw err
  }
}

export async function run(args: string[], opts: Record<string, unknown>, globals: GlobalOptions): Promise<CommandResult> {
  const o = opts as unknown as Options
  const location = parseLocation(args[0] ?? '')
  // --ref is checked before any work: a typo found after the push would leave an image no name points at.
  if (o.ref !== undefined) parseTaggedReference(o.ref)
  if (o.allPlatforms && o.platform?.length) throw new UsageError('--platform and --all-platforms cannot be used together')
  const platforms: PlatformSelection = o.allPlatforms ? { all: true } : { all: false, only: o.platform?.length ? o.platform.map(parsePlatform) : [hostPlatform()] }
  const lifetimeMs = parseDuration(o.ipnsLifetime, '--ipns-lifetime')
  const ttlMs = parseDuration(o.ipnsTtl, '--ipns-ttl')
  const convertOptions = await estargzOptionsFrom(opts)
  const limits = limitsFrom(opts)

  const source = await openImageSource(location, globals)
  // Conversion work happens on worker threads; none are started for --estargz=false.
  const pool = o.estargz ? (await import('../estargz/index.js')).createEstargzPool() : undefined
  // --car: every block goes into a CAR file and no IPFS node is involved (air-gapped hosts).
  const car = o.car !== undefined ? await CarFileWriter.create(o.car) : undefined
  const { backend, note } = car ? { backend: car, note: `writing every block to ${car.path}; no IPFS node is involved` } : await openIpfs({ api: globals.ipfsApi })
  log.info(note)
  const progress = await pushProgress()
  try {
    const root = await source.root()
    const result = await pushImage(source, backend, {
      platforms, limits, onEvent: progress.onEvent,
      ...(pool ? { convertLayer: estargzConverter(pool, convertOptions, { limits }), rewriteConfig: rewriteConfigDiffIds } : {}),
    })
    progress.stop()
    // Root descriptor first, then every blob: descriptors link blobs by URL only, so `dag import` pins each root.
    if (car) await car.finish([parseCid(result.rootCid), ...result.blobs.flatMap((b) => (b.cid ? [parseCid(b.cid)] : []))])
    const named = referenceOf(location, root, o.ref)
    const refused = named !== undefined && o.ref === undefined ? unpublishable(named) : undefined
    const ref = refused ? undefined : named
    let ipns: { ref: string; name: string; expires: string } | undefined
    if (car && o.ipns && ref !== undefined) {
      log.info(`not publishing ${ref} via IPNS: a CAR file carries no IPNS records (pull it by CID)`)
    } else if (o.ipns && ref !== undefined) {
      const published = await publishPush(backend, ref, result.rootCid, { key: o.ipnsKey, lifetimeMs, ttlMs })
      ipns = { ref, name: published.name, expires: published.expires.toISOString() }
      log.info(`published ${ref} as /ipns/${published.name} (valid until ${ipns.expires}; renew with \`ipcr ipns republish\`)`)
    } else if (o.ipns && refused) {
      log.info(`not publishing an IPNS name: ${refused.message}; give one with --ref`)
    } else if (o.ipns) {
      log.info('not publishing an IPNS name: the image has no reference (give one with --ref)')
    }
    return {
      text: result.rootCid,
      json: { root: result.rootCid, rootDescriptor: result.root, backend: backend.description, blobs: result.blobs, ...(ipns ? { ipns } : {}) },
    }
  } finally {
    progress.stop()
    await Promise.allSettled([source.close(), backend.close(), pool?.close()])
  }
}
