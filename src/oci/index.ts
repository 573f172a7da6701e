/**
 * The image model: descriptors, manifests, platforms, Go-compatible JSON, locations and the store
 * interfaces. Importing it loads no gRPC and no IPFS client: backends are opened through open.ts,
 * which loads each one only when used.
 */
export * from './media-types.js'
export * from './descriptor.js'
export * from './digest.js'
export * from './platform.js'
export * from './go-json.js'
export * from './go-raw-json.js'
export * from './manifest.js'
export * from './location.js'
export * from './reference.js'
export * from './store.js'
export { openImageSource, openImageSink, type ContainerdTarget } from './open.js'
export { OciLayout } from './stores/oci-layout.js'
export { DockerArchive } from './stores/docker-archive.js'
