import { join } from 'node:path'
import { IpcrError, withContext } from '../errors.js'
import { DEFAULT_CHUNK_SIZE, DEFAULT_COMPRESSION_LEVEL, type EstargzPool, type ConvertOptions } from '../estargz/index.js'
import { ESTARGZ_WRITER_VERSION, estargzCompressorId, estargzParts } from '../estargz/writer-id.js'
import type { Conversion } from '../oci/conversion-memo.js'
import type { Descriptor } from '../oci/descriptor.js'
import { verifyStream } from '../oci/digest.js'
import { defaultLimits, layerRatioFloor, maxExpandedSize, type ImageLimits } from '../oci/limits.js'
import { isLayer, MediaType } from '../oci/media-types.js'
import { readRange, writeFileAtomic } from '../util/fs-util.js'
import { rm } from 'node:fs/promises'
import { hasConversionCache, type ImageSource, type StoredConversion } from '../oci/store.js'
import { createHash } from 'node:crypto'
import { scratchDir } from '../util/scratch.js'
import { formatSize } from '../util/size.js'
import type { ConvertedLayer, LayerConverter } from './push.js'

export const TocDigestAnnotation = 'containerd.io/snapshot/stargz/toc.digest'
export const UncompressedSizeAnnotation = 'io.containers.estargz.uncompressed-size'

/** Media type of a converted layer: gzip is added to uncompressed types, as ctr-remote's converter does. */
export function estargzMediaType(mediaType: string): string {
  if (mediaType === MediaType.OciLayer || mediaType === MediaType.OciLayerNondistributable) return `${mediaType}+gzip`
  if (mediaType === MediaType.DockerLayer) return `${mediaType}.gzip`
  return mediaType
}

/**
 * The conversion's memo settings: every option that changes its bytes (defaults spelled out, so
 * leaving a flag out and giving its default share a memo), and the writer and gzip encoder, so a
 * stored result is never reused for other settings or by another writer. The prioritized files
 * are named by the digest of their list (order counts; none gives the same bytes as an empty list).
 */
export function estargzConversion(options: ConvertOptions): Conversion {
  const prioritized = options.prioritizedFiles ?? []
  return {
    kind: 'estargz',
    settings: {
      'chunk-size': String(options.chunkSize ?? DEFAULT_CHUNK_SIZE),
      level: String(options.level ?? DEFAULT_COMPRESSION_LEVEL),
      prioritized: prioritized.length === 0 ? 'none' : `sha256:${createHash('sha256').update(JSON.stringify(prioritized)).digest('hex')}`,
      writer: ESTARGZ_WRITER_VERSION,
      compressor: estargzCompressorId(options),
      parts: String(estargzParts(options)),
    },
  }
}

export interface ConverterSetup {
  /** Bounds on a layer's expansion and the scratch space it takes; defaultLimits by default. */
  limits?: ImageLimits
  /** Where a layer's files go while it is converted; default this process's scratch (util/scratch.ts). */
  scratch?: (prefix: string) => Promise<{ path: string; remove(): Promise<void> }>
}

/** The spool bounds for one layer, with the flag that raises whichever bound applies. */
function spoolLimitsFor(layer: Descriptor, limits: ImageLimits): NonNullable<ConvertOptions['spoolLimits']> {
  const bytes = maxExpandedSize(layer.size, limits)
  const byRatio = bytes < limits.layerSize
  const why = !byRatio ? `the limit for one layer's tar`
    : bytes === layerRatioFloor ? `the least a layer may always expand to; ${limits.layerRatio} times its ${formatSize(layer.size)} is less`
      : `${limits.layerRatio} times its compressed size of ${formatSize(layer.size)}`
  return { maxTarSize: { bytes, limit: byRatio ? 'layerRatio' : 'layerSize', why }, minFreeSpace: limits.minFreeSpace }
}

/** A file system error in scratch space (disk full, a file removed under us) as one line naming the place. */
function scratchFailure(err: unknown, dir: string): unknown {
  const code = (err as NodeJS.ErrnoException | undefined)?.code
  if (err instanceof IpcrError || typeof code !== 'string' || !/^E[A-Z]+$/.test(code)) return err
  const what = code === 'ENOSPC' ? 'the disk is full' : code === 'ENOENT' ? 'a file of the conversion was removed while it ran' : (err as Error).message
  return new IpcrError(`scratch space ${dir}: ${what} (${code}); free space there or set IPCR_ROOT to a larger disk, then rerun`, { cause: err })
}

/**
 * A LayerConverter that turns every layer into eStargz through `pool`. Source layers are spooled
 * to scratch space (verified against their digest on the way), converted there, and the converted
 * blob is streamed from disk: memory stays bounded whatever the layer size, and disk by the limits.
 */
export function estargzConverter(pool: EstargzPool, options: ConvertOptions = {}, setup: ConverterSetup = {}): LayerConverter {
  const conversion = estargzConversion(options)
  const limits = setup.limits ?? defaultLimits
  const scratch = setup.scratch ?? scratchDir
  return async (layer: Descriptor, source: ImageSource): Promise<ConvertedLayer | undefined> => {
    if (!isLayer(layer.mediaType)) return undefined
    const describe = (c: StoredConversion): Descriptor => ({
      ...layer, mediaType: estargzMediaType(layer.mediaType), digest: c.digest, size: c.size, annotations: { ...layer.annotations, ...c.annotations },
    })
    if (hasConversionCache(source)) {
      const stored = await source.findConverted(layer, conversion)
      if (stored) {
        const desc = describe(stored)
        return { desc, bytes: () => source.blob(desc), newDiffId: stored.diffId, reused: true }
      }
    }
    const { path: dir, remove: release } = await scratch('convert')
    try {
      const input = join(dir, 'source')
      await writeFileAtomic(input, source.blob(layer)).catch((err: unknown) => { throw scratchFailure(err, dir) })
      const out = await withContext(`converting layer ${layer.digest} to eStargz`, () =>
        pool.convertFile(input, { ...options, spoolLimits: spoolLimitsFor(layer, limits) }, dir).catch((err: unknown) => { throw scratchFailure(err, dir) }))
      await rm(input, { force: true })
      const stored: StoredConversion = {
        digest: out.digest, size: out.size, diffId: out.diffId,
        annotations: { [TocDigestAnnotation]: out.tocDigest, [UncompressedSizeAnnotation]: String(out.uncompressedSize) },
      }
      if (hasConversionCache(source)) await source.storeConverted(layer, conversion, stored, readRange(out.path))
      // Checked again as it is read back: the file sat on disk since the writer hashed it.
      return { desc: describe(stored), bytes: () => verifyStream(describe(stored), readRange(out.path)), newDiffId: out.diffId, release, reused: false }
    } catch (err) {
      await release()
      throw err
    }
  }
}
