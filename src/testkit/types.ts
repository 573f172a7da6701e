/**
 * Shapes the kit hands out: the OCI model's, with digests as plain strings since the kit computes
 * them itself.
 */
import type { Descriptor as OciDescriptor } from '../oci/descriptor.js'

export type { Platform } from '../oci/platform.js'

export type Descriptor = Omit<OciDescriptor, 'digest'> & { digest: string }
