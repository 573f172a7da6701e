/**
 * Config and manifest blobs for one image, with fields in the Go structs' order (image-spec
 * v1 `Image`, `ImageConfig`, `Manifest`), so tools that re-marshal them see no change.
 */
import { FIXED_CREATED, MT } from './constants.js'
import { goJsonBytes } from './gojson.js'
import { sha256Digest } from './hash.js'
import { gzipDeterministic } from './gzip.js'
import type { OciLayoutWriter } from './layout.js'
import type { Descriptor, Platform } from './types.js'

export const DEFAULT_PATH = 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'

export interface LayerBlob {
  descriptor: Descriptor
  /** sha256 of the uncompressed tar, as listed in the config's rootfs.diff_ids. */
  diffId: string
  /** What the layer is, for the config's history. */
  comment: string
}

/** Store a tar as a gzip layer blob (or as-is with `gzip: false`). */
export async function writeLayer(
  w: OciLayoutWriter,
  tarBytes: Buffer,
  opts: { mediaType: string; gzip: boolean; comment: string },
): Promise<LayerBlob> {
  const stored = opts.gzip ? gzipDeterministic(tarBytes) : tarBytes
  const descriptor = await w.writeBlob(stored, opts.mediaType)
  return { descriptor, diffId: sha256Digest(tarBytes), comment: opts.comment }
}

export interface ImageSpec {
  platform: Platform
  layers: LayerBlob[]
  env?: string[]
  cmd?: string[]
  /** Docker schema2 media types for manifest and config instead of OCI ones. */
  docker?: boolean
}

export function imageConfig(spec: ImageSpec): Record<string, unknown> {
  const cfg: Record<string, unknown> = {
    created: FIXED_CREATED,
    architecture: spec.platform.architecture,
    os: spec.platform.os,
  }
  if (spec.platform.variant) cfg.variant = spec.platform.variant
  cfg.config = { Env: spec.env ?? [DEFAULT_PATH], Cmd: spec.cmd ?? ['/bin/sh'], WorkingDir: '/' }
  cfg.rootfs = { type: 'layers', diff_ids: spec.layers.map((l) => l.diffId) }
  cfg.history = spec.layers.map((l) => ({ created: FIXED_CREATED, created_by: `ipcr testkit: ${l.comment}` }))
  return cfg
}

export interface WrittenImage {
  manifest: Descriptor
  config: Descriptor
  layers: Descriptor[]
  diffIds: string[]
  /** The exact config bytes, for writers that need them again (docker archive). */
  configBytes: Buffer
}

export async function writeImage(w: OciLayoutWriter, spec: ImageSpec): Promise<WrittenImage> {
  const configMt = spec.docker ? MT.dockerConfig : MT.ociConfig
  const manifestMt = spec.docker ? MT.dockerManifest : MT.ociManifest
  const configBytes = goJsonBytes(imageConfig(spec))
  const config = await w.writeBlob(configBytes, configMt)
  const layers = spec.layers.map((l) => l.descriptor)
  const manifestDesc = await w.writeJsonBlob({ schemaVersion: 2, mediaType: manifestMt, config, layers }, manifestMt)
  return { manifest: manifestDesc, config, layers, diffIds: spec.layers.map((l) => l.diffId), configBytes }
}
