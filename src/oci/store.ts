import type { Conversion } from './conversion-memo.js'
import type { Descriptor } from './descriptor.js'

/**
 * Where images come from: containerd's image store, an OCI layout, a docker archive, IPFS.
 * A backend implements just these; walking, verifying and converting live elsewhere, once.
 */
export interface ImageSource {
  /** How the user named it, for messages. */
  readonly location: string
  /** The descriptor the location names: an index or a single manifest. */
  root(): Promise<Descriptor>
  /**
   * A blob's bytes. A backend hands them out as stored; wrapped by verifiedSource (as open() and
   * every walk wraps sources) they are checked against the descriptor as they stream.
   */
  blob(desc: Descriptor): AsyncIterable<Uint8Array>
  close(): Promise<void>
}

/**
 * Optional on a source that can start a blob part-way (IPFS): the bytes from `offset` on, NOT
 * verified, since a hash needs the whole. Only for a consumer that checks the whole blob itself,
 * as containerd does when it commits an ingest that was resumed.
 */
export interface RangeReader {
  blobFrom(desc: Descriptor, offset: number): AsyncIterable<Uint8Array>
}

/** Where images go when they are not pushed to IPFS (image copy, image convert). */
export interface ImageSink {
  readonly location: string
  /** Store a blob, a no-op when it is there already. Wrapped by verifiedSink, a mismatch fails the put. */
  putBlob(desc: Descriptor, bytes: AsyncIterable<Uint8Array>): Promise<void>
  /** Record the image under its name once every blob it references is stored. */
  tag(root: Descriptor): Promise<void>
  close(): Promise<void>
}

/** A layer conversion remembered by a store, so converting the same image again costs nothing. */
export interface StoredConversion {
  digest: Descriptor['digest']
  size: number
  /** The converted layer's uncompressed digest (its new diff ID). */
  diffId: string
  /** Annotations the converted layer's descriptor carries (e.g. the eStargz TOC digest). */
  annotations: Record<string, string>
}

/**
 * Optional on an ImageSource that can keep converted layers beside the originals (containerd).
 * `conversion` names the kind and every setting that changes the bytes; a stored result is found
 * only for the same layer and the same settings (conversion-memo.ts).
 */
export interface ConversionCache {
  findConverted(layer: Descriptor, conversion: Conversion): Promise<StoredConversion | undefined>
  storeConverted(layer: Descriptor, conversion: Conversion, converted: StoredConversion, bytes: AsyncIterable<Uint8Array>): Promise<void>
}

export function hasConversionCache(source: ImageSource): source is ImageSource & ConversionCache {
  return typeof (source as Partial<ConversionCache>).findConverted === 'function' && typeof (source as Partial<ConversionCache>).storeConverted === 'function'
}
