import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { withContext } from '../errors.js'
import type { EstargzPool, ConvertOptions } from '../estargz/index.js'
import { type Descriptor, shortDigest } from '../oci/descriptor.js'
import { verifyStream } from '../oci/digest.js'
import { isLayer, MediaType } from '../oci/media-types.js'
import { readRange, writeFileAtomic } from '../oci/stores/fs-util.js'
import { hasConversionCache, type ImageSource, type StoredConversion } from '../oci/store.js'
import { createHash } from 'node:crypto'
import type { ConvertedLayer, LayerConverter } from './push.js'

export const TocDigestAnnotation = 'containerd.io/snapshot/stargz/toc.digest'
export const UncompressedSizeAnnotation = 'io.containers.estargz.uncompressed-size'

/** Media type of a converted layer: gzip is added to uncompressed types, as ctr-remote's converter does. */
export function estargzMediaType(mediaType: string): string {
  if (mediaType === MediaType.OciLayer || mediaType === MediaType.OciLayerNondistributable) return `${mediaType}+gzip`
  if (mediaType === MediaType.DockerLayer) return `${mediaType}.gzip`
  return mediaType
}

/** Names a conversion and every option that changes its bytes, so other settings never reuse it. */
export function conversionKey(options: ConvertOptions): string {
  const relevant = { chunkSize: options.chunkSize ?? null, level: options.level ?? null, prioritized: options.prioritizedFiles ?? [] }
  return `estargz-${createHash('sha256').update(JSON.stringify(relevant)).digest('hex').slice(0, 16)}`
}

/**
 * A LayerConverter that turns every layer into eStargz on worker threads. Source layers are spooled
 * to a temp file (verified against their digest on the way), converted there, and the converted
 * blob is streamed from disk: memory stays bounded whatever the layer size.
 */
export function estargzConverter(pool: EstargzPool, options: ConvertOptions = {}, scratch = tmpdir()): LayerConverter {
  const key = conversionKey(options)
  return async (layer: Descriptor, source: ImageSource): Promise<ConvertedLayer | undefined> => {
    if (!isLayer(layer.mediaType)) return undefined
    const describe = (c: StoredConversion): Descriptor => ({
      ...layer, mediaType: estargzMediaType(layer.mediaType), digest: c.digest, size: c.size, annotations: { ...layer.annotations, ...c.annotations },
    })
    if (hasConversionCache(source)) {
      const stored = await source.findConverted(layer, key)
      if (stored) {
        const desc = describe(stored)
        return { desc, bytes: () => source.blob(desc), newDiffId: stored.diffId, reused: true }
      }
    }
    const dir = await mkdtemp(join(scratch, 'ipcr-convert-'))
    const release = (): Promise<void> => rm(dir, { recursive: true, force: true })
    try {
      const input = join(dir, 'source')
      await writeFileAtomic(input, verifyStream(layer, source.blob(layer), shortDigest(layer)))
      const out = await withContext(`converting layer ${layer.digest} to eStargz`, () => pool.convertFile(input, options, dir))
      await rm(input, { force: true })
      const stored: StoredConversion = {
        digest: out.digest, size: out.size, diffId: out.diffId,
        annotations: { [TocDigestAnnotation]: out.tocDigest, [UncompressedSizeAnnotation]: String(out.uncompressedSize) },
      }
      if (hasConversionCache(source)) await source.storeConverted(layer, key, stored, readRange(out.path))
      return { desc: describe(stored), bytes: () => readRange(out.path), newDiffId: out.diffId, release, reused: false }
    } catch (err) {
      await release()
      throw err
    }
  }
}
