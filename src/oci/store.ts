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
