import { estargzOptionsFrom } from '../cli/estargz-options.js'
import type { CommandResult, GlobalOptions } from '../cli/globals.js'
import { limitsFrom } from '../cli/limit-options.js'
import { platformsFrom } from '../cli/platform-options.js'
import { pushProgress } from '../cli/push-progress.js'
import { registryOptionsFrom } from '../cli/registry-options.js'
import { UsageError } from '../errors.js'
import { createEstargzPool } from '../estargz/index.js'
import { rewriteConfigDiffIds } from '../oci/go-raw-json.js'
import { parseLocation } from '../oci/location.js'
import { convertImage } from '../push/convert.js'
import { estargzConverter } from '../push/estargz-layers.js'
import { openImageSink, openImageSource } from '../stores/open.js'
import { Closers } from '../util/closers.js'

/** `ipcr image convert --estargz SRC DST`, as `ctr-remote image convert --estargz --oci`; prints the new root digest. */
export async function run(args: string[], opts: Record<string, unknown>, globals: GlobalOptions): Promise<CommandResult> {
  if (opts.estargz !== true) throw new UsageError('tell ipcr what to convert to: --estargz (the only conversion it knows)')
  const [from, to] = [parseLocation(args[0] ?? ''), parseLocation(args[1] ?? '')]
  const platforms = platformsFrom(opts)
  const limits = limitsFrom(opts)
  const convertOptions = await estargzOptionsFrom(opts)
  const ctx = { ...globals, registry: registryOptionsFrom(opts, limits) }
  const open = new Closers()
  try {
    const source = open.add(await openImageSource(from, ctx))
    const pool = open.add(createEstargzPool())
    const sink = open.add(await openImageSink(to, ctx))
    const progress = await pushProgress()
    open.add({ close: () => progress.stop() })
    const result = await convertImage(source, sink, {
      platforms, limits, convertLayer: estargzConverter(pool, convertOptions, { limits }), rewriteConfig: rewriteConfigDiffIds, onEvent: progress.onEvent,
    })
    return { text: result.root.digest, json: { source: source.location, destination: sink.location, root: result.root, blobs: result.blobs } }
  } finally {
    await open.close()
  }
}
