/**
 * A tiny OCI image-layout writer (image-spec "image-layout"): content-addressed blobs under
 * blobs/sha256/, an `oci-layout` marker and an `index.json` whose entries carry the annotations
 * `ctr images import` reads to name each image.
 */
import { createWriteStream } from 'node:fs'
import { mkdir, rename, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { pipeline } from 'node:stream/promises'
import type { Transform } from 'node:stream'
import { ANNOTATION_CONTAINERD_NAME, ANNOTATION_REF_NAME, MT } from './constants.js'
import { goJsonBytes, sortedRecord } from './gojson.js'
import { HashingPassThrough, sha256Hex } from './hash.js'
import { gzipStreamDeterministic } from './gzip.js'
import { tempNameFor, writeFileAtomic } from './atomic.js'
import type { Descriptor } from './types.js'

export const OCI_LAYOUT_FILE = 'oci-layout'
export const OCI_LAYOUT_CONTENT = '{"imageLayoutVersion":"1.0.0"}'

/** The tag part of a reference (`ipcr.test/single:1` -> `1`), `latest` when there is none. */
export function refTag(name: string): string {
  const colon = name.lastIndexOf(':')
  return colon > name.lastIndexOf('/') ? name.slice(colon + 1) : 'latest'
}

export interface StreamedBlob {
  descriptor: Descriptor
  /** sha256 of the bytes before compression: the layer's diff_id (equal to the digest if not gzipped). */
  diffId: string
}

export class OciLayoutWriter {
  readonly blobDir: string

  constructor(readonly dir: string) {
    this.blobDir = join(dir, 'blobs', 'sha256')
  }

  /** Create the directories and the `oci-layout` marker; safe to call on an existing layout. */
  async init(): Promise<this> {
    await mkdir(this.blobDir, { recursive: true })
    await writeFileAtomic(join(this.dir, OCI_LAYOUT_FILE), OCI_LAYOUT_CONTENT)
    return this
  }

  blobPath(digest: string): string {
    return join(this.blobDir, digest.replace(/^sha256:/, ''))
  }

  async writeBlob(data: Uint8Array, mediaType: string): Promise<Descriptor> {
    const hex = sha256Hex(data)
    await writeFileAtomic(join(this.blobDir, hex), data)
    return { mediaType, digest: `sha256:${hex}`, size: data.byteLength }
  }

  /** A JSON blob in Go's encoding (callers order keys as the Go structs do). */
  async writeJsonBlob(value: unknown, mediaType: string): Promise<Descriptor> {
    return this.writeBlob(goJsonBytes(value), mediaType)
  }

  /**
   * A blob whose bytes `produce` writes into the given stream, hashed on the way to a temp file
   * and renamed to its digest at the end; memory use does not depend on the blob's size.
   * With `gzip`, what `produce` writes is compressed and its own sha256 comes back as diffId.
   */
  async writeBlobStream(
    mediaType: string,
    produce: (sink: HashingPassThrough) => Promise<void>,
    opts: { gzip?: boolean } = {},
  ): Promise<StreamedBlob> {
    const raw = new HashingPassThrough()
    const stored = opts.gzip ? new HashingPassThrough() : raw
    const tmp = tempNameFor(join(this.blobDir, 'blob'))
    const stages: (HashingPassThrough | Transform)[] = opts.gzip ? [raw, ...gzipStreamDeterministic(), stored] : [raw]
    const done = pipeline([...stages, createWriteStream(tmp)])
    try {
      await produce(raw)
      raw.end()
      await done
      const digest = stored.digest()
      await rename(tmp, this.blobPath(digest))
      return { descriptor: { mediaType, digest, size: stored.size }, diffId: raw.digest() }
    } catch (err) {
      raw.destroy(err as Error)
      await done.catch(() => undefined)
      await rm(tmp, { force: true })
      throw err
    }
  }

  /**
   * Write index.json listing `images`. Each entry gets `io.containerd.image.name` (the full
   * reference, which ctr import uses as the image name) and `org.opencontainers.image.ref.name`
   * (the tag, the spec's convention).
   */
  async writeIndex(images: { name: string; descriptor: Descriptor }[]): Promise<Descriptor[]> {
    const manifests = images.map(({ name, descriptor }) =>
      withAnnotations(descriptor, { [ANNOTATION_CONTAINERD_NAME]: name, [ANNOTATION_REF_NAME]: refTag(name) }),
    )
    const index = { schemaVersion: 2, mediaType: MT.ociIndex, manifests }
    await writeFileAtomic(join(this.dir, 'index.json'), goJsonBytes(index))
    return manifests
  }
}

/** A descriptor with extra annotations, its fields re-laid in Go's declaration order. */
export function withAnnotations(d: Descriptor, extra: Record<string, string>): Descriptor {
  const out: Descriptor = { mediaType: d.mediaType, digest: d.digest, size: d.size }
  if (d.urls) out.urls = d.urls
  out.annotations = sortedRecord({ ...(d.annotations ?? {}), ...extra })
  if (d.data !== undefined) out.data = d.data
  if (d.platform) out.platform = d.platform
  if (d.artifactType !== undefined) out.artifactType = d.artifactType
  return out
}
