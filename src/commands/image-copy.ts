import type { CommandResult, GlobalOptions } from '../cli/globals.js'
import { limitsFrom } from '../cli/limit-options.js'
import { log } from '../cli/log.js'
import { pullProgress } from '../cli/pull-progress.js'
import { UsageError } from '../errors.js'
import { cidText } from '../ipfs/cid.js'
import { parsePullRef } from '../ipfs/ref.js'
import { resolvePullRef } from '../ipfs/resolve.js'
import { openIpfs } from '../ipfs/select.js'
import { parseLocation } from '../oci/location.js'
import { openImageSink, openImageSource } from '../oci/open.js'
import { hostPlatform, parsePlatform, type PlatformSelection } from '../oci/platform.js'
import type { ImageSource } from '../oci/store.js'
import { IpfsImageSource } from '../oci/stores/ipfs.js'
import { copyImage } from '../pull/copy.js'

interface Options { platform?: string[]; allPlatforms: boolean; json: boolean }

export async function run(args: string[], opts: Record<string, unknown>, globals: GlobalOptions): Promise<CommandResult> {
  const o = opts as unknown as Options
  const from = parseLocation(args[0] ?? '')
  const to = parseLocation(args[1] ?? '')
  // Bad input is refused before kubo is reached, as rpull does.
  const pullRef = from.kind === 'ipfs' ? parsePullRef(from.ref) : undefined
  if (o.allPlatforms && o.platform?.length) throw new UsageError('--platform and --all-platforms cannot be used together')
  const platforms: PlatformSelection = o.allPlatforms ? { all: true } : { all: false, only: o.platform?.length ? o.platform.map(parsePlatform) : [hostPlatform()] }

  const closers: Array<() => Promise<void>> = []
  try {
    let source: ImageSource
    if (pullRef) {
      const { backend, note } = await openIpfs({ api: globals.ipfsApi, notify: log.info })
      closers.push(() => backend.close())
      log.info(note)
      const resolved = await resolvePullRef(pullRef, backend, { timeoutMs: 60_000 })
      source = new IpfsImageSource(resolved.cid, backend)
    } else {
      source = await openImageSource(from, globals)
    }
    closers.push(() => source.close())
    const sink = await openImageSink(to, globals)
    closers.push(() => sink.close())
    const progress = await pullProgress()
    closers.push(async () => progress.stop())
    const tree = await copyImage(source, sink, { platforms, limits: limitsFrom(opts), onFetch: (desc) => progress.onEvent({ type: 'fetch-start', desc }) })
    return { text: '', json: { source: source.location, destination: sink.location, root: tree.root, ...(from.kind === 'ipfs' ? { cid: cidText((source as IpfsImageSource).rootCid) } : {}) } }
  } finally {
    for (const close of closers.reverse()) await close().catch(() => undefined)
  }
}
