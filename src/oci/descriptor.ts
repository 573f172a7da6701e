import type { Platform } from './platform.js'
import type { Digest } from './digest.js'

/** An OCI content descriptor. Field order here is the order the Go structs marshal in. */
export interface Descriptor {
  mediaType: string
  digest: Digest
  size: number
  urls?: string[]
  annotations?: Record<string, string>
  data?: string
  platform?: Platform
  artifactType?: string
}

/** The `ipfs://` URL of a descriptor, if it has one (the only kind rpull ever follows). */
export function ipfsUrlOf(desc: Descriptor): string | undefined {
  return desc.urls?.find((u) => u.startsWith('ipfs://'))
}

export function shortDigest(desc: Pick<Descriptor, 'digest'>): string {
  return desc.digest.slice(0, 'sha256:'.length + 12)
}
