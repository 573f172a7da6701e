/** Names, sizes and annotation keys fixed by the eStargz format (stargz-snapshotter's estargz package). */

/** The last tar entry of every eStargz: the table of contents. */
export const TOC_TAR_NAME = 'stargz.index.json'
/** First entry when no files are prioritized: tells the snapshotter not to prefetch. */
export const NO_PREFETCH_LANDMARK = '.no.prefetch.landmark'
/** Follows the prioritized files: the snapshotter prefetches everything before it. */
export const PREFETCH_LANDMARK = '.prefetch.landmark'
/** Both landmarks hold this one byte. */
export const LANDMARK_CONTENTS = 0x0f

export const FOOTER_SIZE = 51
export const LEGACY_FOOTER_SIZE = 47

/** The Go writer's default chunk size and compression level (gzip.BestCompression). */
export const DEFAULT_CHUNK_SIZE = 4 << 20
export const DEFAULT_COMPRESSION_LEVEL = 9

/** Layer descriptor annotations. */
export const TOC_DIGEST_ANNOTATION = 'containerd.io/snapshot/stargz/toc.digest'
export const UNCOMPRESSED_SIZE_ANNOTATION = 'io.containers.estargz.uncompressed-size'
