import type { Descriptor } from '../oci/descriptor.js'
import type { ImageLocation } from '../oci/location.js'
import { parseTaggedReference, ReferenceError } from '../oci/reference.js'

/** Which reference a push publishes via IPNS, or why none. */
export type PublishName = { ref: string } | { ref?: undefined; why: string }

/**
 * The reference to publish: --ref as given (already checked), else the containerd or registry name as typed,
 * else the layout's image name annotation. A name taken from the image that is no tagged reference
 * (an image rpull fetched by CID is named by that CID) is not published, and the reason says so.
 */
export function publishName(loc: ImageLocation, root: Descriptor, flag: string | undefined): PublishName {
  if (flag !== undefined) return { ref: flag }
  const named = loc.kind === 'containerd' ? loc.name : loc.kind === 'docker' ? loc.ref : root.annotations?.['io.containerd.image.name']
  if (named === undefined) return { why: 'the image has no reference (give one with --ref)' }
  try {
    parseTaggedReference(named)
    return { ref: named }
  } catch (err) {
    if (err instanceof ReferenceError) return { why: `${err.message}; give one with --ref` }
    throw err
  }
}
