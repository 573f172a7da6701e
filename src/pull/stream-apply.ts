import { Readable } from 'node:stream'
import { createGunzip } from 'node:zlib'
import type { ContainerdClient } from '../containerd/client.js'
import type { Mount } from '../containerd/wire.js'
import { IntegrityError } from '../errors.js'
import type { Descriptor } from '../oci/descriptor.js'
import { sha256Digest, type Digest } from '../oci/digest.js'
import { MediaType } from '../oci/media-types.js'
import { TarParts, type TarPartsOptions } from './tar-parts.js'

export interface ApplyWhileFetchingOptions extends Partial<TarPartsOptions> {
  layer: Descriptor
  diffId: Digest
  /** The active snapshot's mounts, as Prepare gave them; it must have no parent. */
  mounts: Mount[]
  /** The layer's gzip bytes from its start, as they are fetched. */
  compressed: AsyncIterable<Uint8Array>
}

/** Layers this applies to: gzip tar, which containerd 1.6 inflates in Go inside Apply, one layer at a time. */
export function isGzipLayer(mediaType: string): boolean {
  return mediaType === MediaType.OciLayerGzip || mediaType === MediaType.DockerLayerGzip ||
    mediaType === MediaType.OciLayerNondistributableGzip || mediaType === MediaType.DockerForeignLayerGzip
}

/**
 * Unpack a gzip base layer while its blob is still arriving. Layers unpack one after another and
 * the bottom one is usually most of the image, so containerd would otherwise wait for the whole
 * blob, then inflate and unpack it in one thread. Here the bytes are inflated as they come (zlib, in
 * Node's thread pool), cut into uncompressed tar parts (pull/tar-parts.ts), and each part is written
 * to the content store and applied with Diff.Apply while the next one is made. Parts are deleted
 * once applied; until then the caller's lease holds them.
 *
 * The caller still waits for the compressed blob to land (and be verified) before committing the
 * snapshot; the diff ID is checked here over the whole inflated stream. Any failure leaves the
 * active snapshot half unpacked: the caller removes it, and may apply the layer the usual way.
 */
export async function applyWhileFetching(client: ContainerdClient, o: ApplyWhileFetchingOptions): Promise<{ parts: number }> {
  const parts = new TarParts({ firstPartBytes: o.firstPartBytes ?? 4 << 20, partBytes: o.partBytes ?? 16 << 20 })
  let applying: Promise<void> = Promise.resolve()
  let failure: { reason: unknown } | undefined
  const deletions: Array<Promise<void>> = []
  let n = 0

  // Written in order, one at a time (so at most one part is held in memory beyond the one being
  // cut); applied in order, each as soon as it is written and the one before it is applied.
  const send = async (bytes: Buffer): Promise<void> => {
    if (failure) throw failure.reason
    const desc = { mediaType: MediaType.OciLayer, digest: sha256Digest(bytes), size: bytes.length }
    const ref = `ipcr-part-${n++}-${o.layer.digest}`
    await client.content.write(desc, bytes, { ref })
    applying = applying.then(async () => {
      if (failure) return
      const applied = await client.diff.apply(desc, o.mounts)
      if (applied.digest !== desc.digest) throw new IntegrityError(`containerd applied ${applied.digest} where part ${desc.digest} of ${o.layer.digest} was written`)
      deletions.push(client.content.delete(desc.digest).catch(() => undefined))
    }).catch((reason: unknown) => { failure ??= { reason } })
  }

  try {
    for await (const chunk of gunzip(o.compressed)) {
      for (const part of parts.push(chunk)) await send(part)
    }
    for (const part of parts.end()) await send(part)
  } finally {
    // Never hand the snapshot back with an Apply still running on it.
    await applying
    await Promise.all(deletions)
  }
  if (failure) throw failure.reason
  if (parts.diffId !== o.diffId) {
    throw new IntegrityError(`layer ${o.layer.digest} unpacks to ${parts.diffId}, but the config says its diff ID is ${o.diffId}`)
  }
  return { parts: n }
}

/** Inflate a gzip stream (all of its members, as Go's reader does), in chunks of 256 KiB. */
async function* gunzip(source: AsyncIterable<Uint8Array>): AsyncGenerator<Buffer> {
  const input = Readable.from(source, { objectMode: false })
  const z = createGunzip({ chunkSize: 256 << 10 })
  input.on('error', (err) => z.destroy(err))
  input.pipe(z)
  try {
    for await (const chunk of z) yield chunk as Buffer
  } finally {
    input.destroy()
    z.destroy()
  }
}
