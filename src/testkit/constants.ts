/**
 * Fixed inputs of the test kit. Everything the kit writes is a pure function of these, of the
 * busybox binary it copies and of Node's zlib build, so the same machine gets the same bytes.
 */

/** Bump whenever a change makes the kit write different bytes, so stamped builds are redone. */
export const KIT_VERSION = '1'

/** Every mtime and every `created` time the kit writes (2024-01-01T00:00:00Z). */
export const FIXED_DATE = new Date(Date.UTC(2024, 0, 1, 0, 0, 0))
export const FIXED_CREATED = '2024-01-01T00:00:00Z'

/** gzip level for fixture layers; fixed because the compressed bytes depend on it. */
export const GZIP_LEVEL = 6

/** Media types the kit writes. Kept here (not imported from src/oci) so the kit stands alone. */
export const MT = {
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociConfig: 'application/vnd.oci.image.config.v1+json',
  ociLayer: 'application/vnd.oci.image.layer.v1.tar',
  ociLayerGzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
  dockerManifestList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerConfig: 'application/vnd.docker.container.image.v1+json',
  dockerLayer: 'application/vnd.docker.image.rootfs.diff.tar',
  dockerLayerGzip: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
} as const

/** Annotations `ctr images import` reads to name an image found in an OCI layout's index.json. */
export const ANNOTATION_REF_NAME = 'org.opencontainers.image.ref.name'
export const ANNOTATION_CONTAINERD_NAME = 'io.containerd.image.name'
