import type { Descriptor } from '../oci/descriptor.js'
import type { ImageSink, ImageSource } from '../oci/store.js'
import { verifiedSink } from '../oci/verified.js'
import { rewriteImage, type PushOptions, type RewriteResult } from './push.js'

/**
 * Convert an image from one location into another (`image convert`): the same walk as ipfs-push,
 * but blobs go to an image sink and no URLs are added. The name is written last, so a failed
 * conversion leaves the destination's tags as they were.
 */
export async function convertImage(source: ImageSource, to: ImageSink, options: PushOptions): Promise<RewriteResult> {
  const sink = verifiedSink(to)
  const result = await rewriteImage(source, {
    async put(desc: Descriptor, bytes: AsyncIterable<Uint8Array>) {
      await sink.putBlob(desc, bytes)
      return {}
    },
  }, options)
  await sink.tag(result.root)
  return result
}
