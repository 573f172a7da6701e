/**
 * The test kit: deterministic fixture images built from the local busybox binary, random images
 * of any size for benchmarks, and an OCI layout validator. Used by unit and e2e tests and by
 * scripts/fixtures.mjs; not part of the published CLI.
 */
export { KIT_VERSION, FIXED_DATE, FIXED_CREATED, MT, ANNOTATION_CONTAINERD_NAME, ANNOTATION_REF_NAME } from './constants.js'
export type { Descriptor, Platform } from './types.js'
export { goJson, goJsonBytes, sortedRecord, byteOrder } from './gojson.js'
export { sha256Hex, sha256Digest, sha256File } from './hash.js'
export { prngBytes, prngStream } from './prng.js'
export { gzipDeterministic } from './gzip.js'
export { writeTar, tarBuffer, normalizeEntries, type TarEntry } from './tar.js'
export { OciLayoutWriter, refTag, withAnnotations, OCI_LAYOUT_CONTENT, type StreamedBlob } from './layout.js'
export { tarLayout } from './layout-tar.js'
export { writeImage, writeLayer, imageConfig, type ImageSpec, type LayerBlob, type WrittenImage } from './image.js'
export { busyboxRootfs, BUSYBOX_APPLETS, PASSWD, GROUP } from './busybox.js'
export * as layers from './layers.js'
export { writeDockerArchive, type DockerArchiveInput, type DockerArchiveInfo } from './docker-archive.js'
export {
  buildFixtures,
  FIXTURE_NAMES,
  STAMP_FILE,
  type BuildOptions,
  type Fixtures,
  type FixtureImage,
  type FixtureManifest,
  type DockerArchiveFixture,
} from './fixtures.js'
export { writeRandomImage, RANDOM_FILE_PATH, type RandomImage, type RandomImageOptions } from './random-image.js'
export { validateLayout, type ValidateOptions } from './validate.js'
