import type { Descriptor } from '../oci/descriptor.js'

/** What a pull reports; the CLI renders these as `fetching` lines or live bars. */
export type PullEvent =
  | { type: 'fetch-start'; desc: Descriptor }
  | { type: 'fetch-progress'; desc: Descriptor; bytes: number }
  | { type: 'fetch-done'; desc: Descriptor }
  /** An interrupted ingest of this blob was continued from `offset` instead of starting over. */
  | { type: 'fetch-resumed'; desc: Descriptor; offset: number }
  | { type: 'layer-remote'; desc: Descriptor; chainId: string }
  | { type: 'layer-applied'; desc: Descriptor; chainId: string }
  | { type: 'layer-present'; desc: Descriptor; chainId: string }
