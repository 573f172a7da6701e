import { clusterTargetFrom } from '../cli/cluster-options.js'
import type { CommandResult, GlobalOptions } from '../cli/globals.js'
import { limitsFrom } from '../cli/limit-options.js'
import { pullProgress } from '../cli/pull-progress.js'
import { UsageError } from '../errors.js'
import { hostPlatform, parsePlatform } from '../oci/platform.js'
import { ipfsPull } from '../pull/ipfs-pull.js'
import { parseDuration } from '../util/duration.js'

interface Options { snapshotter?: string; platform?: string[]; timeout: string; gateway?: string[]; car?: string; pin: boolean }

/** `ipcr image rpull [--ipfs] REF`: the image into containerd, unpacked (lazily with stargz). */
export async function run(args: string[], opts: Record<string, unknown>, globals: GlobalOptions): Promise<CommandResult> {
  const o = opts as unknown as Options
  if (args[0] === undefined && o.car === undefined) throw new UsageError('no image given: expected a CID, ipfs://CID, /ipfs/CID, /ipns/NAME or an image reference')
  if (o.platform && o.platform.length > 1) throw new UsageError('rpull unpacks one platform: give --platform once')
  const timeoutMs = parseDuration(o.timeout, '--timeout')
  const cluster = clusterTargetFrom(opts)
  const progress = await pullProgress()
  try {
    const r = await ipfsPull(args[0], {
      ...globals, gateways: o.gateway, car: o.car, snapshotter: o.snapshotter, pin: o.pin, timeoutMs, limits: limitsFrom(opts), ...(cluster ? { cluster } : {}),
      platform: o.platform?.[0] !== undefined ? parsePlatform(o.platform[0]) : hostPlatform(), onEvent: progress.onEvent, notify: progress.note,
    })
    return {
      text: '',
      json: {
        name: r.name, root: r.rootCid, manifest: r.manifest.digest, snapshotter: r.snapshotter, layers: r.layers, unpack: r.parallel ? 'parallel' : 'sequential',
        fetched: r.fetched.map((d) => ({ mediaType: d.mediaType, digest: d.digest, size: d.size })),
      },
    }
  } finally {
    progress.stop()
  }
}
