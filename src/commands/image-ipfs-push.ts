import type { CommandResult, GlobalOptions } from '../cli/globals.js'
import { log } from '../cli/log.js'
import { pushProgress } from '../cli/push-progress.js'
import { UsageError } from '../errors.js'
import { openIpfs } from '../ipfs/select.js'
import { parseLocation } from '../oci/location.js'
import { openImageSource } from '../oci/open.js'
import { hostPlatform, parsePlatform, type PlatformSelection } from '../oci/platform.js'
import { pushImage } from '../push/push.js'

interface Options { estargz: boolean; platform?: string[]; allPlatforms: boolean; json: boolean }

export async function run(args: string[], opts: Record<string, unknown>, globals: GlobalOptions): Promise<CommandResult> {
  const o = opts as unknown as Options
  const location = parseLocation(args[0] ?? '')
  if (o.allPlatforms && o.platform?.length) throw new UsageError('--platform and --all-platforms cannot be used together')
  const platforms: PlatformSelection = o.allPlatforms ? { all: true } : { all: false, only: o.platform?.length ? o.platform.map(parsePlatform) : [hostPlatform()] }
  if (o.estargz) throw new UsageError('eStargz conversion is not available in this build yet; pass --estargz=false')

  const source = await openImageSource(location, globals)
  const { backend, note } = await openIpfs({ api: globals.ipfsApi })
  log.info(note)
  const progress = await pushProgress()
  try {
    const result = await pushImage(source, backend, { platforms, onEvent: progress.onEvent })
    return {
      text: result.rootCid,
      json: { root: result.rootCid, rootDescriptor: result.root, backend: backend.description, blobs: result.blobs },
    }
  } finally {
    progress.stop()
    await Promise.allSettled([source.close(), backend.close()])
  }
}
