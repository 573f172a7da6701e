import { NotFoundError, withContext } from '../errors.js'
import type { IpfsBackend } from '../ipfs/backend.js'
import { cidText } from '../ipfs/cid.js'
import type { Descriptor } from '../oci/descriptor.js'
import { readAll, sha256Digest } from '../oci/digest.js'
import { marshalDescriptor, marshalIndex, marshalManifest, parseIndex, parseManifest, type Manifest } from '../oci/manifest.js'
import { checkJsonSize, checkLayerCount, defaultLimits, type ImageLimits } from '../oci/limits.js'
import { isIndex, isManifest, toOciMediaType } from '../oci/media-types.js'
import { describeSelection, formatPlatform, selectsPlatform, type PlatformSelection } from '../oci/platform.js'
import type { ImageSource } from '../oci/store.js'
import { verifiedSource } from '../oci/verified.js'
import { diffIdsOf } from '../pull/chain.js'
import { limit } from '../util/limit.js'
import { once } from '../util/once.js'
import type { PushEvent, PushedBlob } from './events.js'

/**
 * Turns one layer into another before it is added (eStargz conversion). Returns undefined to keep the
 * layer as it is. `diffIds` maps old diff IDs to new ones so the config can be rewritten.
 */
export type LayerConverter = (layer: Descriptor, source: ImageSource) => Promise<ConvertedLayer | undefined>

export interface ConvertedLayer {
  desc: Descriptor
  bytes: () => AsyncIterable<Uint8Array>
  /** The uncompressed digest of the new layer; the config's diff_id for it changes to this. */
  newDiffId: string
  /** Called once the converted blob has been stored (temporary files go). */
  release?: () => Promise<void>
  /** The conversion was found stored from an earlier run rather than made now. */
  reused?: boolean
}

export interface PushOptions {
  platforms: PlatformSelection
  /** Blobs added at once; layers are where the time goes. */
  concurrency?: number
  convertLayer?: LayerConverter
  /** Rewrite a config whose diff_ids changed; given the original bytes and the old->new map. */
  rewriteConfig?: (config: Uint8Array, diffIds: ReadonlyMap<string, string>) => Uint8Array
  onEvent?: (event: PushEvent) => void
  /** Stops the walk before its next blob. */
  signal?: AbortSignal
  /** What ipcr refuses to publish because it would refuse to pull it; defaultLimits by default. */
  limits?: ImageLimits
  /**
   * The CID IPFS already holds a blob under (added with the same profile), so it is not read and
   * added again: the registry's pushed blobs went into IPFS as they were uploaded.
   */
  storedCid?: (desc: Descriptor) => Promise<string | undefined>
  /**
   * A layer this push does not hold and keeps by reference, as its descriptor says (a foreign,
   * "non-distributable" layer with its own URLs): left exactly as it is, neither read nor added.
   */
  foreignLayer?: (desc: Descriptor) => Promise<boolean>
}

/** Where rewritten blobs go: IPFS (urls: ipfs://CID) or an image sink (no urls). */
export interface RewriteTarget {
  /** Store a blob (already verified as it streams); returns the URLs its descriptor should carry. */
  put(desc: Descriptor, bytes: AsyncIterable<Uint8Array>): Promise<{ urls?: string[]; cid?: string }>
}

export interface RewriteResult {
  root: Descriptor
  blobs: PushedBlob[]
}

export interface PushResult extends RewriteResult {
  /** The CID of the root descriptor JSON: what ipfs-push prints. */
  rootCid: string
}

/**
 * Make an image IPFS-enabled, bottom-up as containerd's converter walks it for ctr-remote:
 * every blob is added, every descriptor gains `urls: ["ipfs://<CID>"]` and OCI media types,
 * manifests and indexes are re-serialised (Go JSON) and added, and finally the root descriptor.
 */
export async function pushImage(source: ImageSource, ipfs: IpfsBackend, options: PushOptions): Promise<PushResult> {
  const target: RewriteTarget = {
    async put(desc, bytes) {
      const stored = await options.storedCid?.(desc)
      if (stored !== undefined) return { urls: [`ipfs://${stored}`], cid: stored }
      const cid = cidText(await withContext(`adding ${desc.digest}`, () => ipfs.add(bytes)))
      return { urls: [`ipfs://${cid}`], cid }
    },
  }
  const { root, blobs } = await rewriteImage(source, target, options)
  const rootCid = cidText(await ipfs.add(once(Buffer.from(marshalDescriptor(root)))))
  return { rootCid, root, blobs }
}

/**
 * The walk behind push and convert, as containerd's converter: layers (converted or not) and
 * config first, then each manifest re-serialised with its rewritten children, then indexes.
 * Docker media types become OCI ones; each stored blob's descriptor takes the target's URLs.
 */
export async function rewriteImage(given: ImageSource, target: RewriteTarget, options: PushOptions): Promise<RewriteResult> {
  const source = verifiedSource(given)
  const emit = options.onEvent ?? (() => undefined)
  const run = limit(options.concurrency ?? 4)
  const added = new Map<string, Promise<string[] | undefined>>()
  const blobs: PushedBlob[] = []
  const limits = options.limits ?? defaultLimits

  /** Add bytes once per digest (a layer shared by two manifests is added once). */
  function addOnce(desc: Descriptor, bytes: () => AsyncIterable<Uint8Array>): Promise<string[] | undefined> {
    let p = added.get(desc.digest)
    if (!p) {
      // Progress names blobs by the media type they are pushed with (OCI), not the source's.
      const shown: Descriptor = { ...desc, mediaType: toOciMediaType(desc.mediaType) }
      p = run(async () => {
        options.signal?.throwIfAborted()
        emit({ type: 'blob-start', desc: shown })
        let seen = 0
        async function* counted(): AsyncGenerator<Uint8Array> {
          for await (const chunk of bytes()) {
            seen += chunk.byteLength
            emit({ type: 'blob-progress', desc: shown, bytes: seen })
            yield chunk
          }
        }
        const stored = await target.put(desc, counted())
        blobs.push({ mediaType: toOciMediaType(desc.mediaType), digest: desc.digest, size: desc.size, ...(stored.cid ? { cid: stored.cid } : {}) })
        emit({ type: 'blob-done', desc: shown, ...(stored.cid ? { cid: stored.cid } : {}) })
        return stored.urls
      })
      added.set(desc.digest, p)
    }
    return p
  }

  const withUrl = (desc: Descriptor, urls: string[] | undefined): Descriptor => {
    const { urls: _old, ...rest } = desc
    return { ...rest, mediaType: toOciMediaType(desc.mediaType), ...(urls ? { urls } : _old ? { urls: _old } : {}) }
  }

  async function readJson(desc: Descriptor, kind: 'manifest' | 'config'): Promise<Buffer> {
    checkJsonSize(desc, kind, limits)
    return readAll(source.blob(desc))
  }

  async function addJson(desc: Descriptor, json: string): Promise<Descriptor> {
    const bytes = Buffer.from(json)
    const next: Descriptor = { ...desc, digest: sha256Digest(bytes), size: bytes.length }
    return withUrl(next, await addOnce(next, () => once(bytes)))
  }

  async function pushManifest(desc: Descriptor): Promise<Descriptor> {
    const m: Manifest = parseManifest(await readJson(desc, 'manifest'), `manifest ${desc.digest}`)
    // Checked whether or not the config is read here: pull reads it whole.
    checkJsonSize(m.config, 'config', limits)
    checkLayerCount(desc.digest, m.layers?.length ?? 0, limits)
    const diffIds = new Map<string, string>()
    // Layer i's diff ID is the config's diff_ids[i]; a converted layer maps it to its new one.
    const oldDiffIds = options.convertLayer ? diffIdsOf(await readJson(m.config, 'config'), `config ${m.config.digest}`) : []
    const layers = m.layers === null ? null : await Promise.all(m.layers.map(async (layer, i) => {
      if (await options.foreignLayer?.(layer)) return layer
      const converted = options.convertLayer ? await options.convertLayer(layer, source) : undefined
      if (converted) {
        emit({ type: 'layer-converted', from: layer, to: converted.desc, reused: converted.reused === true })
        try {
          const old = oldDiffIds[i]
          if (old !== undefined && old !== converted.newDiffId) diffIds.set(old, converted.newDiffId)
          return withUrl(converted.desc, await addOnce(converted.desc, converted.bytes))
        } finally {
          await converted.release?.()
        }
      }
      return withUrl(layer, await addOnce(layer, () => source.blob(layer)))
    }))
    let config = m.config
    let configBytes: () => AsyncIterable<Uint8Array> = () => source.blob(m.config)
    if (diffIds.size > 0 && options.rewriteConfig) {
      const rewritten = Buffer.from(options.rewriteConfig(await readJson(m.config, 'config'), diffIds))
      config = { ...m.config, digest: sha256Digest(rewritten), size: rewritten.length }
      configBytes = () => once(rewritten)
    }
    const newConfig = withUrl(config, await addOnce(config, configBytes))
    const out: Manifest = { ...m, config: newConfig, layers }
    if (m.mediaType !== undefined) out.mediaType = toOciMediaType(m.mediaType)
    return addJson(desc, marshalManifest(out))
  }

  async function pushIndex(desc: Descriptor): Promise<Descriptor> {
    const index = parseIndex(await readJson(desc, 'manifest'), `index ${desc.digest}`)
    const all = index.manifests ?? []
    // As containerd's converter: entries without a platform are kept; the rest must match the selection.
    const kept = all.filter((m) => m.platform === undefined || selectsPlatform(options.platforms, m.platform))
    if (all.length > 0 && kept.length === 0) {
      const available = [...new Set(all.map((m) => (m.platform ? formatPlatform(m.platform) : 'unknown')))].join(', ')
      throw new NotFoundError(`no manifest in ${source.location} matches ${describeSelection(options.platforms)} (it has: ${available}); choose with --platform or --all-platforms`)
    }
    const manifests = await Promise.all(kept.map((m) => pushAny(m)))
    return addJson(desc, marshalIndex({ ...index, ...(index.mediaType !== undefined ? { mediaType: toOciMediaType(index.mediaType) } : {}), manifests }))
  }

  function pushAny(desc: Descriptor): Promise<Descriptor> {
    if (isIndex(desc.mediaType)) return pushIndex(desc)
    if (isManifest(desc.mediaType)) return pushManifest(desc)
    return addOnce(desc, () => source.blob(desc)).then((urls) => withUrl(desc, urls))
  }

  const root = await pushAny(await source.root())
  return { root, blobs }
}
