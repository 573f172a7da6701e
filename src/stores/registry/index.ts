export { openRegistryImage, type RegistryOptions } from './open.js'
export { RegistryImage } from './registry-image.js'
export { RegistryAuthError, RegistryTrustError } from './errors.js'
export { mountSource } from './mount-source.js'
