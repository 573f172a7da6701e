/**
 * Shapes the kit hands out. Structurally the same as src/oci's Descriptor, but declared here
 * so the kit does not depend on code under active development elsewhere.
 */

export interface Platform {
  architecture: string
  os: string
  'os.version'?: string
  'os.features'?: string[]
  variant?: string
}

export interface Descriptor {
  mediaType: string
  digest: string
  size: number
  urls?: string[]
  annotations?: Record<string, string>
  data?: string
  platform?: Platform
  artifactType?: string
}
