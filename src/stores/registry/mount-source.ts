import type { ImageLocation } from '../../oci/location.js'
import { parseRegistryName } from './name.js'

/**
 * When an image is copied between two repositories of one registry, its blobs need not travel:
 * the destination mounts them from the source repository (`POST …/blobs/uploads/?mount=&from=`),
 * as skopeo and crane do. Returns the repository to mount from, or undefined.
 */
export function mountSource(from: ImageLocation, to: ImageLocation): string | undefined {
  if (from.kind !== 'docker' || to.kind !== 'docker') return undefined
  const [a, b] = [parseRegistryName(from.ref), parseRegistryName(to.ref)]
  return a.registry === b.registry && a.repository !== b.repository ? a.repository : undefined
}
