import type { Descriptor } from '../oci/descriptor.js'

/** What a push reports as it goes; the CLI renders these (ora on a terminal, lines otherwise). */
export type PushEvent =
  | { type: 'blob-start'; desc: Descriptor }
  | { type: 'blob-progress'; desc: Descriptor; bytes: number }
  | { type: 'blob-done'; desc: Descriptor; cid?: string }
  | { type: 'layer-converted'; from: Descriptor; to: Descriptor; reused: boolean }

export interface PushedBlob {
  mediaType: string
  digest: string
  size: number
  cid?: string
}
