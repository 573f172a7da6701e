import { IpcrError } from '../errors.js'
import { formatSize } from '../util/size.js'

/**
 * How large an image may be where ipcr has to hold or expand it. One set, applied by push,
 * convert and pull alike, so that what ipcr publishes it will also pull, and what it refuses to
 * pull it does not publish. Each can be raised with the flag named in LimitFlags.
 */
export interface ImageLimits {
  /** A manifest or index, read whole: 4 MiB, what CNCF distribution and most registries accept. */
  manifestSize: number
  /** An image config, read whole: 16 MiB (real ones are kilobytes). */
  configSize: number
  /** Layers in one manifest: 500, the most overlayfs can stack (the kernel's OVL_MAX_STACK). */
  layers: number
  /** A layer's uncompressed tar where ipcr expands it (eStargz conversion): 64 GiB. */
  layerSize: number
  /**
   * A layer may expand to this many times its compressed size (and always to layerRatioFloor):
   * 100. A gzip bomb (10 MB of zeros expanding to 10 GiB) stops at 1 GiB of scratch space.
   */
  layerRatio: number
  /** Scratch space left free on its filesystem while a layer is expanded: 512 MiB. */
  minFreeSpace: number
}

/** Below this a layer's expansion ratio is not checked: small layers of zeros are common and harmless. */
export const layerRatioFloor = 1 << 30

export const defaultLimits: Readonly<ImageLimits> = {
  manifestSize: 4 << 20,
  configSize: 16 << 20,
  layers: 500,
  layerSize: 64 * 2 ** 30,
  layerRatio: 100,
  minFreeSpace: 512 << 20,
}

/** The flag that raises each limit (the same on every command that has it). */
export const LimitFlags: Readonly<Record<keyof ImageLimits, string>> = {
  manifestSize: '--max-manifest-size',
  configSize: '--max-config-size',
  layers: '--max-layers',
  layerSize: '--max-layer-size',
  layerRatio: '--max-layer-ratio',
  minFreeSpace: '--min-free-space',
}

/** Something in an image is larger than a limit allows. */
export class LimitExceededError extends IpcrError {
  constructor(readonly limit: keyof ImageLimits, message: string) {
    super(`${message} (raise the limit with ${LimitFlags[limit]})`)
  }
}

/** Refuse a JSON blob (manifest, index, config) larger than its limit, before any of it is read. */
export function checkJsonSize(desc: { digest: string; size: number; mediaType: string }, kind: 'manifest' | 'config', limits: ImageLimits = defaultLimits): void {
  const limit = kind === 'config' ? 'configSize' : 'manifestSize'
  if (desc.size > limits[limit]) {
    throw new LimitExceededError(limit, `${desc.digest} (${desc.mediaType}) is ${formatSize(desc.size)}, over the ${formatSize(limits[limit])} limit for an image ${kind}`)
  }
}

export function checkLayerCount(manifestDigest: string, count: number, limits: ImageLimits = defaultLimits): void {
  if (count > limits.layers) {
    throw new LimitExceededError('layers', `manifest ${manifestDigest} has ${count} layers, over the limit of ${limits.layers}`)
  }
}

/** The most a layer of `compressedSize` bytes may expand to: the ratio's bound, never below the floor or above layerSize. */
export function maxExpandedSize(compressedSize: number, limits: ImageLimits = defaultLimits): number {
  return Math.min(limits.layerSize, Math.max(layerRatioFloor, compressedSize * limits.layerRatio))
}
