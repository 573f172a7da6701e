import type { Descriptor } from '../oci/descriptor.js'

/**
 * A layer a manifest keeps by reference: its descriptor lists URLs to fetch it from (the image
 * spec's non-distributable layers, e.g. Windows base layers). As distribution does, a push need not
 * upload it; when it was uploaded anyway, it is treated as any other blob.
 */
export function isForeign(desc: Descriptor): boolean {
  return (desc.urls?.length ?? 0) > 0
}
