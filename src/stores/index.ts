/**
 * Image locations as sibling backends behind one open(): containerd's image store, OCI layouts,
 * docker archives (read and written) and IPFS. Each loads only when a location of its kind is opened.
 */
export { openImageSource, openImageSink, type OpenContext, type ContainerdTarget } from './open.js'
export { OciLayout } from './oci-layout.js'
export { DockerArchive } from './docker-archive.js'
export { DockerArchiveWriter } from './docker-archive-writer.js'
