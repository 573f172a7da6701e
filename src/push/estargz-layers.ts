import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { withContext } from '../errors.js'
import type { EstargzPool, ConvertOptions } from '../estargz/index.js'
import { type Descriptor, shortDigest } from '../oci/descriptor.js'
import { verifyStream } from '../oci/digest.js'
import { isLayer, MediaType } from '../oci/media-types.js'
import { readRange, writeFileAtomic } from '../oci/stores/fs-util.js'
import type { ImageSource } from '../oci/store.js'
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
 * A LayerConverter that turns every layer into eStargz on worker threads. Source layers are spooled
 * to a temp file (verified against their digest on the way), converted there, and the converted
 * blob is streamed from disk: memory stays bounded whatever the layer size.
 */
export function estargzConverter(pool: EstargzPool, options: ConvertOptions = {}, scratch = tmpdir()): LayerConverter {
  return async (layer: Descriptor, source: ImageSource): Promise<ConvertedLayer | undefined> => {
    if (!isLayer(layer.mediaType)) return undefined
    const dir = await mkdtemp(join(scratch, 'ipcr-convert-'))
    const release = (): Promise<void> => rm(dir, { recursive: true, force: true })
    try {
      const input = join(dir, 'source')
      await writeFileAtomic(input, verifyStream(layer, source.blob(layer), shortDigest(layer)))
      const out = await withContext(`converting layer ${layer.digest} to eStargz`, () => pool.convertFile(input, options, dir))
      await rm(input, { force: true })
      const desc: Descriptor = {
        ...layer,
        mediaType: estargzMediaType(layer.mediaType),
        digest: out.digest,
        size: out.size,
        annotations: { ...layer.annotations, [TocDigestAnnotation]: out.tocDigest, [UncompressedSizeAnnotation]: String(out.uncompressedSize) },
      }
      return { desc, bytes: () => readRange(out.path), newDiffId: out.diffId, release }
    } catch (err) {
      await release()
      throw err
    }
  }
}
