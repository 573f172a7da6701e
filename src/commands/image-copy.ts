import type { CommandResult, GlobalOptions } from '../cli/globals.js'
import { limitsFrom } from '../cli/limit-options.js'
import { log } from '../cli/log.js'
import { platformsFrom } from '../cli/platform-options.js'
import { pullProgress } from '../cli/pull-progress.js'
import { registryOptionsFrom } from '../cli/registry-options.js'
import { parseLocation } from '../oci/location.js'
import { copyImage } from '../pull/copy.js'
import { openImageSink, openImageSource } from '../stores/open.js'
import { mountSource } from '../stores/registry/mount-source.js'
import { Closers } from '../util/closers.js'

/** `ipcr image copy SRC DST`: any location to any writable one, every blob verified on the way. */
export async function run(args: string[], opts: Record<string, unknown>, globals: GlobalOptions): Promise<CommandResult> {
  const [from, to] = [parseLocation(args[0] ?? ''), parseLocation(args[1] ?? '')]
  const platforms = platformsFrom(opts)
  const limits = limitsFrom(opts)
  // Between two repositories of one registry, blobs are mounted rather than sent through us.
  const ctx = { ...globals, notify: log.info, registry: { ...registryOptionsFrom(opts, limits), mountFrom: mountSource(from, to) } }
  const open = new Closers()
  try {
    const source = open.add(await openImageSource(from, ctx))
    const sink = open.add(await openImageSink(to, ctx))
    const progress = await pullProgress()
    open.add({ close: () => progress.stop() })
    const tree = await copyImage(source, sink, { platforms, limits, ...(globals.signal ? { signal: globals.signal } : {}), onFetch: (desc) => progress.onEvent({ type: 'fetch-start', desc }) })
    // An IPFS source names itself by the root CID it resolved to: ipfs:<cid>.
    const cid = source.location.startsWith('ipfs:') ? source.location.slice('ipfs:'.length) : undefined
    return { text: '', json: { source: source.location, destination: sink.location, root: tree.root, ...(cid ? { cid } : {}) } }
  } finally {
    await open.close()
  }
}
