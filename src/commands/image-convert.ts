import type { CommandResult, GlobalOptions } from '../cli/globals.js'
import { estargzOptionsFrom } from '../cli/estargz-options.js'
import { limitsFrom } from '../cli/limit-options.js'
import { pushProgress } from '../cli/push-progress.js'
import { UsageError } from '../errors.js'
import { createEstargzPool } from '../estargz/index.js'
import { rewriteConfigDiffIds } from '../oci/go-raw-json.js'
import { parseLocation } from '../oci/location.js'
import { openImageSink, openImageSource } from '../stores/open.js'
import { hostPlatform, parsePlatform, type PlatformSelection } from '../oci/platform.js'
import { convertImage } from '../push/convert.js'
import { estargzConverter } from '../push/estargz-layers.js'

interface Options { estargz?: boolean; platform?: string[]; allPlatforms: boolean; json: boolean }

export async function run(args: string[], opts: Record<string, unknown>, globals: GlobalOptions): Promise<CommandResult> {
  const o = opts as unknown as Options
  if (o.estargz !== true) throw new UsageError('tell ipcr what to convert to: --estargz (the only conversion it knows)')
  const from = parseLocation(args[0] ?? '')
  const to = parseLocation(args[1] ?? '')
  if (o.allPlatforms && o.platform?.length) throw new UsageError('--platform and --all-platforms cannot be used together')
  const platforms: PlatformSelection = o.allPlatforms ? { all: true } : { all: false, only: o.platform?.length ? o.platform.map(parsePlatform) : [hostPlatform()] }
  const convertOptions = await estargzOptionsFrom(opts)
  const limits = limitsFrom(opts)

  const source = await openImageSource(from, globals)
  const pool = createEstargzPool()
  const progress = await pushProgress()
  try {
    const sink = await openImageSink(to, globals)
    try {
      const result = await convertImage(source, sink, {
        platforms, limits, convertLayer: estargzConverter(pool, convertOptions, { limits }), rewriteConfig: rewriteConfigDiffIds, onEvent: progress.onEvent,
      })
      return { text: result.root.digest, json: { source: source.location, destination: sink.location, root: result.root, blobs: result.blobs } }
    } finally {
      await sink.close()
    }
  } finally {
    progress.stop()
    await Promise.allSettled([pool.close(), source.close()])
  }
}
