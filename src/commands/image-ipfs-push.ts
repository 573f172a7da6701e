import { clusterTargetFrom } from '../cli/cluster-options.js'
import { estargzOptionsFrom } from '../cli/estargz-options.js'
import type { CommandResult, GlobalOptions } from '../cli/globals.js'
import { limitsFrom } from '../cli/limit-options.js'
import { platformsFrom } from '../cli/platform-options.js'
import { pushProgress } from '../cli/push-progress.js'
import { registryOptionsFrom } from '../cli/registry-options.js'
import { parseLocation } from '../oci/location.js'
import { ipfsPush } from '../push/ipfs-push.js'
import { parseDuration } from '../util/duration.js'

interface Options { estargz: boolean; ipns: boolean; ipnsKey?: string; ipnsLifetime: string; ipnsTtl: string; ref?: string; car?: string }

/** `ipcr image ipfs-push IMAGE`: stdout carries the root descriptor's CID and nothing else. */
export async function run(args: string[], opts: Record<string, unknown>, globals: GlobalOptions): Promise<CommandResult> {
  const o = opts as unknown as Options
  const location = parseLocation(args[0] ?? '')
  const publish = o.ipns && {
    lifetimeMs: parseDuration(o.ipnsLifetime, '--ipns-lifetime'), ttlMs: parseDuration(o.ipnsTtl, '--ipns-ttl'),
    ...(o.ref !== undefined ? { ref: o.ref } : {}), ...(o.ipnsKey !== undefined ? { key: o.ipnsKey } : {}),
  }
  const limits = limitsFrom(opts)
  const cluster = clusterTargetFrom(opts)
  const progress = await pushProgress()
  try {
    const result = await ipfsPush(location, {
      ...globals, platforms: platformsFrom(opts), estargz: o.estargz && await estargzOptionsFrom(opts), limits, publish, registry: registryOptionsFrom(opts, limits),
      ...(o.car !== undefined ? { car: o.car } : {}), ...(cluster ? { cluster } : {}), onEvent: progress.onEvent, notify: progress.note,
    })
    return {
      text: result.rootCid,
      json: { root: result.rootCid, rootDescriptor: result.root, backend: result.backend, blobs: result.blobs, ...(result.ipns ? { ipns: result.ipns } : {}), ...(result.cluster ? { cluster: result.cluster } : {}) },
    }
  } finally {
    progress.stop()
  }
}
