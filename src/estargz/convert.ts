/**
 * Layer conversion as a plain function (containerd's converter shape): a layer blob in, gzip or
 * plain tar, an eStargz blob file out with everything the manifest and config need.
 */
import { createReadStream } from 'node:fs'
import { rm } from 'node:fs/promises'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { tmpdir } from 'node:os'
import type { Digest } from '../oci/digest.js'
import { writeEstargzFile, type EstargzOptions } from './writer.js'

export interface ConvertedLayer {
  /** The new blob, in tmpDir; the caller moves or deletes it. */
  path: string
  digest: Digest
  size: number
  /** The config's new diff_id. */
  diffId: Digest
  /** Layer annotations: containerd.io/snapshot/stargz/toc.digest and io.containers.estargz.uncompressed-size. */
  tocDigest: Digest
  uncompressedSize: number
  missedPrioritized: string[]
}

export type ConvertOptions = Omit<EstargzOptions, 'tmpDir'>

export async function convertLayerToEstargz(
  input: AsyncIterable<Uint8Array>,
  opts: ConvertOptions = {},
  tmpDir: string = tmpdir(),
): Promise<ConvertedLayer> {
  const path = join(tmpDir, `estargz-${randomBytes(8).toString('hex')}.blob`)
  try {
    const r = await writeEstargzFile(input, path, { ...opts, tmpDir })
    return {
      path,
      digest: r.digest,
      size: r.compressedSize,
      diffId: r.diffId,
      tocDigest: r.tocDigest,
      uncompressedSize: r.uncompressedSize,
      missedPrioritized: r.missedPrioritized,
    }
  } catch (err) {
    await rm(path, { force: true })
    throw err
  }
}

/** convertLayerToEstargz over a blob file (gzip or plain tar). */
export function convertLayerFileToEstargz(inputPath: string, opts: ConvertOptions = {}, tmpDir?: string): Promise<ConvertedLayer> {
  return convertLayerToEstargz(createReadStream(inputPath, { highWaterMark: 1 << 20 }), opts, tmpDir)
}
