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
  /** A blob's raw bytes. Callers verify them against the descriptor (verifyStream). */
  blob(desc: Descriptor): AsyncIterable<Uint8Array>
  close(): Promise<void>
}

/** Where images go when they are not pushed to IPFS (image copy, image convert). */
export interface ImageSink {
  readonly location: string
  /** Store a blob; must verify digest and size and be a no-op when the blob is already there. */
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
 * `key` names the conversion and its options, so different settings never share a result.
 */
export interface ConversionCache {
  findConverted(layer: Descriptor, key: string): Promise<StoredConversion | undefined>
  storeConverted(layer: Descriptor, key: string, converted: StoredConversion, bytes: AsyncIterable<Uint8Array>): Promise<void>
}

export function hasConversionCache(source: ImageSource): source is ImageSource & ConversionCache {
  return typeof (source as Partial<ConversionCache>).findConverted === 'function' && typeof (source as Partial<ConversionCache>).storeConverted === 'function'
}
