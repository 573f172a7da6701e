/**
 * What made an eStargz blob, for the conversion memo (src/oci/conversion-memo.ts): a stored
 * conversion is reused only when these match the writer about to run, so a change of writer makes
 * ipcr convert again instead of handing out bytes an older writer made.
 */
import { availableParallelism } from 'node:os'
import type { ConvertOptions } from './convert.js'

/**
 * Bump when the writer's bytes change for the same input and settings for any reason other than
 * the gzip encoder (entry order, tar headers, TOC layout).
 */
export const ESTARGZ_WRITER_VERSION = '3'

/**
 * The gzip encoder that compresses the members, by name and version. 'go' is our port of Go's
 * compress/flate (gzip/), named after the Go release whose bytes it reproduces; Node's bundled
 * zlib may compress differently from one Node release to the next, so its version is in its name.
 */
export function estargzCompressorId(options: ConvertOptions): string {
  return options.compressor === 'zlib' ? `node-zlib-${process.versions.zlib ?? 'unknown'}` : 'go-flate-go1.26'
}

/** The parts a layer is cut into (writer.ts): the bytes depend on it, as estargz.Build's on GOMAXPROCS. */
export function estargzParts(options: ConvertOptions): number {
  return options.parts ?? availableParallelism()
}
