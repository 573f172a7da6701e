import type { ImageCids } from '../cluster/replicate.js'
import type { ConvertOptions, EstargzPool, EstargzPoolOptions } from '../estargz/index.js'
import { IntegrityError, UnavailableError } from '../errors.js'
import type { IpfsBackend } from '../ipfs/backend.js'
import { parseCid } from '../ipfs/cid.js'
import { publishPush } from '../ipfs/publish.js'
import type { Descriptor } from '../oci/descriptor.js'
import type { Digest } from '../oci/digest.js'
import { rewriteConfigDiffIds } from '../oci/go-raw-json.js'
import { LimitExceededError, type ImageLimits } from '../oci/limits.js'
import type { ImageSource } from '../oci/store.js'
import { estargzConverter } from '../push/estargz-layers.js'
import { pushImage } from '../push/push.js'
import { once } from '../util/once.js'
import { RegistryError } from './errors.js'
import { isForeign } from './foreign.js'
import type { RegistryMetadata } from './storage/metadata.js'

export interface PublishSettings {
  /** Convert layers to eStargz for the IPFS-enabled image (the pushed bytes stay as pushed), or not. */
  estargz: ConvertOptions | false
  /** Publish under this kubo key instead of the one derived from the reference (ipfs-push --ipns-key). */
  ipnsKey?: string
  lifetimeMs: number
  ttlMs: number
  limits?: ImageLimits
  /** Also pin every CID of each image made through IPFS Cluster (`--cluster`). */
  cluster?: { url: string; pin(image: ImageCids): Promise<void> }
  /** The conversion workers' pool (tests point it at a bundled worker). */
  pool?: EstargzPoolOptions
  env?: NodeJS.ProcessEnv
}

/** What a tag push became in IPFS. */
export interface PublishedImage {
  ref: string
  root: string
  ipnsName: string
}

/**
 * What a manifest pushed by tag becomes: the IPFS-enabled image ipfs-push would make of the same
 * image (every descriptor with `urls: ["ipfs://CID"]`, OCI media types, a root descriptor and its
 * CID), published via IPNS under `R:T` and entered in the push history. Blobs pushed through the
 * API are in IPFS already and are not added again; only the re-serialised manifests, the root
 * descriptor and converted layers are new. One publication per reference at a time: eight
 * clients pushing the same image get one root, published in turn rather than racing.
 */
export class IpfsImagePublisher {
  private pool: EstargzPool | undefined
  private readonly running = new Map<string, Promise<PublishedImage>>()

  constructor(private readonly meta: RegistryMetadata, private readonly ipfs: IpfsBackend, private readonly o: PublishSettings) {}

  publish(repo: string, tag: string, digest: Digest): Promise<PublishedImage> {
    const ref = `${repo}:${tag}`
    const before = this.running.get(ref) ?? Promise.resolve(undefined)
    const next = before.catch(() => undefined).then(() => this.make(repo, ref, digest))
    this.running.set(ref, next)
    void next.catch(() => undefined).finally(() => { if (this.running.get(ref) === next) this.running.delete(ref) })
    return next
  }

  async close(): Promise<void> {
    await this.pool?.close()
  }

  private async make(repo: string, ref: string, digest: Digest): Promise<PublishedImage> {
    const top = await this.meta.manifest(repo, digest)
    if (!top) throw new RegistryError('MANIFEST_UNKNOWN', { digest })
    const source: ImageSource = {
      location: `${repo}@${digest}`,
      root: async () => ({ mediaType: top.mediaType, digest, size: top.bytes.byteLength }),
      blob: (desc) => this.bytesOf(repo, desc),
      close: async () => undefined,
    }
    let pushed
    try {
      pushed = await pushImage(source, this.ipfs, {
        platforms: { all: true },
        ...(this.o.limits ? { limits: this.o.limits } : {}),
        storedCid: async (desc) => (await this.meta.blob(desc.digest))?.cid,
        foreignLayer: async (desc) => isForeign(desc) && (await this.meta.blob(desc.digest)) === undefined,
        ...(this.o.estargz ? { convertLayer: estargzConverter(await this.estargzPool(), this.o.estargz, this.o.limits ? { limits: this.o.limits } : {}), rewriteConfig: rewriteConfigDiffIds } : {}),
      })
    } catch (err) {
      if (err instanceof LimitExceededError) throw new RegistryError('MANIFEST_INVALID', err.message)
      const e = new RegistryError(err instanceof IntegrityError ? 'UNKNOWN' : 'UNAVAILABLE', `making the IPFS-enabled image of ${ref} failed`)
      e.cause = err
      throw e
    }
    try {
      const published = await publishPush(this.ipfs, ref, pushed.rootCid, { key: this.o.ipnsKey, lifetimeMs: this.o.lifetimeMs, ttlMs: this.o.ttlMs, ...(this.o.env ? { env: this.o.env } : {}) })
      await this.replicate(ref, pushed.rootCid, pushed.blobs.flatMap((b) => (b.cid ? [b.cid] : [])))
      return { ref, root: pushed.rootCid, ipnsName: published.name }
    } catch (err) {
      if (err instanceof RegistryError) throw err
      const e = new RegistryError('UNAVAILABLE', `${ref} is in IPFS as ${pushed.rootCid} but publishing its IPNS name failed; push the tag again`)
      e.cause = err
      throw e
    }
  }

  /** Pin the image through the cluster; a failure fails the push, so the client's retry pins. */
  private async replicate(ref: string, root: string, blobs: string[]): Promise<void> {
    if (!this.o.cluster) return
    try {
      await this.o.cluster.pin({ name: ref, root, cids: [root, ...blobs] })
    } catch (err) {
      const e = new RegistryError('UNAVAILABLE', `${ref} is in IPFS as ${root} and published, but pinning it through IPFS Cluster ${this.o.cluster.url} failed; push the tag again`)
      e.cause = err
      throw e
    }
  }

  /** A manifest's bytes as pushed, or a blob's from IPFS (verified by the walk that asks). */
  private async *bytesOf(repo: string, desc: Descriptor): AsyncGenerator<Uint8Array> {
    const manifest = await this.meta.manifest(repo, desc.digest)
    if (manifest) {
      yield* once(manifest.bytes)
      return
    }
    const blob = await this.meta.blob(desc.digest)
    if (!blob) throw new UnavailableError(`${desc.digest} was checked when the manifest was pushed but is no longer held`)
    yield* this.ipfs.cat(parseCid(blob.cid))
  }

  private async estargzPool(): Promise<EstargzPool> {
    this.pool ??= (await import('../estargz/index.js')).createEstargzPool(this.o.pool)
    return this.pool
  }
}
