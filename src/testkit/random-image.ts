/**
 * writeRandomImage(): a single-layer image of arbitrary size for push/pull benchmarks. The layer
 * is a tar of one file of pseudo-random bytes, generated, tarred, hashed and written in one
 * streaming pass, so a 1 GiB image takes seconds and memory stays flat. Random data does not
 * compress, so the default is an uncompressed layer; `gzip: true` is there for code paths that
 * need a compressed layer (at a much lower speed).
 */
import { MT } from './constants.js'
import { writeImage, type LayerBlob } from './image.js'
import { OciLayoutWriter } from './layout.js'
import { prngStream } from './prng.js'
import { writeTar } from './tar.js'
import type { Descriptor } from './types.js'

export interface RandomImageOptions {
  /** Size in bytes of the random file inside the layer (the layer blob is ~1.5 KiB larger). */
  layerSize: number
  /** Same seed, same bytes. */
  seed: string
  /** Image name for index.json; default `ipcr.test/random:<seed>` (seed reduced to tag characters). */
  name?: string
  gzip?: boolean
}

export interface RandomImage {
  dir: string
  name: string
  manifest: Descriptor
  config: Descriptor
  layer: Descriptor
  diffId: string
  indexEntry: Descriptor
}

export const RANDOM_FILE_PATH = 'random.bin'

export async function writeRandomImage(dir: string, opts: RandomImageOptions): Promise<RandomImage> {
  if (!Number.isSafeInteger(opts.layerSize) || opts.layerSize < 0) throw new Error(`bad layerSize ${opts.layerSize}`)
  const name = opts.name ?? `ipcr.test/random:${opts.seed.replace(/[^A-Za-z0-9_.-]/g, '_').slice(0, 128)}`
  const w = await new OciLayoutWriter(dir).init()
  const size = opts.layerSize
  const { descriptor, diffId } = await w.writeBlobStream(
    opts.gzip ? MT.ociLayerGzip : MT.ociLayer,
    (sink) => writeTar([{ path: RANDOM_FILE_PATH, type: 'file', source: { size, open: () => prngStream(opts.seed, size) } }], sink),
    { gzip: opts.gzip ?? false },
  )
  const layer: LayerBlob = { descriptor, diffId, comment: `${size} random bytes from seed ${JSON.stringify(opts.seed)}` }
  const image = await writeImage(w, { platform: { architecture: 'amd64', os: 'linux' }, layers: [layer] })
  const [indexEntry] = await w.writeIndex([{ name, descriptor: image.manifest }])
  return {
    dir,
    name,
    manifest: image.manifest,
    config: image.config,
    layer: descriptor,
    diffId,
    indexEntry: indexEntry as Descriptor,
  }
}
