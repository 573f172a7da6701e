/**
 * What made an eStargz blob, for the conversion memo (src/oci/conversion-memo.ts): a stored
 * conversion is reused only when these match the writer about to run, so a change of writer makes
 * ipcr convert again instead of handing out bytes an older writer made.
 */
import type { ConvertOptions } from './convert.js'

/**
 * Bump when the writer's bytes change for the same input and settings for any reason other than
 * the gzip encoder (entry order, tar headers, TOC layout).
 */
export const ESTARGZ_WRITER_VERSION = '1'

/**
 * The gzip encoder that compresses the members, by name and version. Node's bundled zlib may
 * compress differently from one Node release to the next, so its version is part of the name.
 * The one place to name another encoder (and to read an option that chooses one).
 */
export function estargzCompressorId(_options: ConvertOptions): string {
  return `node-zlib-${process.versions.zlib ?? 'unknown'}`
}
