import { NotFoundError } from '../errors.js'
import type { ContainerdClient, ConnectOptions, LeaseHandle } from '../containerd/client.js'
import { ContainerdClient as Client } from '../containerd/client.js'
import { childGcLabels, childrenOf } from '../containerd/gc-labels.js'
import type { LeaseOptions } from '../containerd/lease-options.js'
import type { BlobBytes, WriteResult } from '../containerd/content-write.js'
import type { Descriptor } from '../oci/descriptor.js'
import { readAll } from '../oci/digest.js'
import { checkConvertedMemo, checkSourceMemo, conversionKey, encodeMemo, type Conversion } from '../oci/conversion-memo.js'
import { isIndex, isManifest } from '../oci/media-types.js'
import type { ConversionCache, ImageSink, ImageSource, StoredConversion } from '../oci/store.js'
import { uncompressedLabel } from '../containerd/gc-labels.js'

export interface ContainerdImageStoreOptions {
  /** The store's own lease, made on the first write (ignored when the client is already in a lease). */
  lease?: LeaseOptions
  /** close() also closes the client. */
  ownsClient?: boolean
}

/**
 * An image in containerd's image store, by its exact name, in the client's namespace.
 * Reads stream from the content store; writes happen inside one lease (the client's, or one the
 * store makes on first use and deletes on close), so half-copied images never outlive a crash by long.
 */
export class ContainerdImageStore implements ImageSource, ImageSink, ConversionCache {
  readonly location: string
  private leased: Promise<LeaseHandle> | undefined

  constructor(readonly client: ContainerdClient, readonly name: string, private readonly opts: ContainerdImageStoreOptions = {}) {
    this.location = name
  }

  /** Connect to containerd for just this store; close() closes the connection too. */
  static async open(name: string, connect: ConnectOptions = {}, opts: Omit<ContainerdImageStoreOptions, 'ownsClient'> = {}): Promise<ContainerdImageStore> {
    return new ContainerdImageStore(await Client.connect(connect), name, { ...opts, ownsClient: true })
  }

  async root(): Promise<Descriptor> {
    try {
      return (await this.client.images.get(this.name)).target
    } catch (err) {
      if (err instanceof NotFoundError) {
        throw new NotFoundError(`image "${this.name}" not found in containerd namespace "${this.client.namespace}"`, { cause: err })
      }
      throw err
    }
  }

  blob(desc: Descriptor): AsyncIterable<Uint8Array> {
    return this.client.content.read(desc)
  }

  /** Indexes and manifests get containerd's gc.ref labels for their children, as a pull would give them. */
  async putBlob(desc: Descriptor, bytes: AsyncIterable<Uint8Array>): Promise<void> {
    if (isManifest(desc.mediaType) || isIndex(desc.mediaType)) {
      const json = await readAll(bytes)
      await this.writeBlob(desc, json, { labels: childGcLabels(childrenOf(desc.mediaType, JSON.parse(json.toString('utf8')))) })
      return
    }
    const result = await this.writeBlob(desc, bytes)
    if (!result.written) await bytes[Symbol.asyncIterator]().return?.() // let the producer stop
  }

  /**
   * Store a blob with labels (e.g. `containerd.io/uncompressed`, gc refs), inside the store's lease;
   * a blob already there gets the labels added.
   */
  async writeBlob(desc: Descriptor, bytes: BlobBytes, opts: { labels?: Record<string, string> } = {}): Promise<WriteResult> {
    const { client } = await this.lease()
    return client.content.write(desc, bytes, opts.labels ? { labels: opts.labels } : {})
  }

  /**
   * A conversion of `layer` stored earlier with these settings, if its memo checks out and
   * containerd still holds its blob: the layer's memo must name the layer itself and the settings
   * (stargz-snapshotter's converter copies a layer's labels, memo included, onto its own output),
   * and the converted blob's memo must name that blob, so its diff ID and annotations are its own.
   */
  async findConverted(layer: Descriptor, conversion: Conversion): Promise<StoredConversion | undefined> {
    const key = conversionKey(conversion)
    const source = await this.client.content.info(layer.digest).catch(() => undefined)
    const mine = checkSourceMemo(source?.labels[`${convertedPrefix}${key}`], layer.digest, conversion)
    if (!('converted' in mine)) return undefined
    const digest = mine.converted
    const info = await this.client.content.info(digest).catch(() => undefined)
    if (!info || !('ok' in checkConvertedMemo(info.labels[`${conversionPrefix}${key}`], digest, conversion))) return undefined
    const diffId = info.labels[uncompressedLabel]
    if (!diffId) return undefined
    const annotations: Record<string, string> = {}
    for (const [k, v] of Object.entries(info.labels)) if (k.startsWith(annotationPrefix)) annotations[k.slice(annotationPrefix.length)] = v
    return { digest, size: info.size, diffId, annotations }
  }

  /**
   * Keep a converted layer beside its source, in the store's lease: labelled with its diff ID
   * (`containerd.io/uncompressed`, as containerd's converter labels it), annotations and memo, and
   * referenced from the source layer (by the same memo) so GC keeps it exactly as long as the original.
   */
  async storeConverted(layer: Descriptor, conversion: Conversion, converted: StoredConversion, bytes: AsyncIterable<Uint8Array>): Promise<void> {
    const key = conversionKey(conversion)
    const memo = encodeMemo({ source: layer.digest, converted: converted.digest, conversion })
    const labels: Record<string, string> = { [uncompressedLabel]: converted.diffId, [`${conversionPrefix}${key}`]: memo }
    for (const [k, v] of Object.entries(converted.annotations)) labels[`${annotationPrefix}${k}`] = v
    await this.writeBlob({ mediaType: layer.mediaType, digest: converted.digest, size: converted.size }, bytes, { labels })
    const { client } = await this.lease()
    await client.content.updateLabels(layer.digest, {
      [`${convertedPrefix}${key}`]: memo,
      [`containerd.io/gc.ref.content.ipcr.${key}`]: converted.digest,
    })
  }

  /** Point the image name at `root`, creating the record or moving an existing one. */
  async tag(root: Descriptor): Promise<void> {
    const { client } = await this.lease()
    await client.images.put(this.name, root)
  }

  /** Delete the store's lease (what the image record references stays) and, if owned, the connection. */
  async close(): Promise<void> {
    const leased = this.leased
    this.leased = undefined
    try {
      const handle = await leased?.catch(() => undefined) // a lease never made needs no deleting
      await handle?.done()
    } finally {
      if (this.opts.ownsClient) await this.client.close()
    }
  }

  private lease(): Promise<LeaseHandle> {
    if (this.leased === undefined) {
      const leased = this.client.createLease(this.opts.lease)
      leased.catch(() => { if (this.leased === leased) this.leased = undefined }) // let the next write try again
      this.leased = leased
    }
    return this.leased
  }
}

/** On a source layer: the memo of its conversion under a key (`estargz-<settings hash>`), naming the layer, settings and result. */
const convertedPrefix = 'ipcr.io/converted.'
/** On a converted blob: the memo of the conversion that made it, naming this blob. */
const conversionPrefix = 'ipcr.io/conversion.'
/** On a converted blob: the annotations its descriptor carries. */
const annotationPrefix = 'ipcr.io/annotation.'
