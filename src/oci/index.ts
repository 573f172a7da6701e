/**
 * The image model: descriptors, manifests, platforms, Go-compatible JSON, locations, references,
 * limits and the source and sink interfaces with the wrappers that verify them. It imports no
 * backend: those are siblings under src/stores/ (ipcr/stores), opened by one open().
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
export * from './limits.js'
export * from './verified.js'
