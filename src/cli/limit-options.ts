import { Option, type Command } from 'commander'
import { UsageError } from '../errors.js'
import { defaultLimits, LimitFlags, type ImageLimits } from '../oci/limits.js'
import { formatSize, parseSize } from '../util/size.js'

type LimitName = keyof ImageLimits

const help: Record<LimitName, string> = {
  manifestSize: 'largest manifest or index to read',
  configSize: 'largest image config to read',
  layers: 'most layers in one manifest',
  layerSize: 'largest a layer may expand to when converted',
  layerRatio: 'most a layer may expand per byte of its compressed size when converted (above 1 GiB)',
  minFreeSpace: 'free space to keep in the scratch directory while a layer is expanded',
}

const counts: ReadonlySet<LimitName> = new Set(['layers', 'layerRatio'])

/** The JSON limits every reader of images has; the expansion limits only commands that convert. */
export const jsonLimits: readonly LimitName[] = ['manifestSize', 'configSize', 'layers']
export const allLimits = Object.keys(defaultLimits) as LimitName[]

/** Add `--max-…` flags for `names` to a command, each showing its default. */
export function addLimitOptions(cmd: Command, names: readonly LimitName[]): Command {
  for (const name of names) {
    const shown = counts.has(name) ? String(defaultLimits[name]) : formatSize(defaultLimits[name]).replace(' ', '')
    cmd.addOption(new Option(`${LimitFlags[name]} <${counts.has(name) ? 'n' : 'size'}>`, `${help[name]} (default ${shown})`))
  }
  return cmd
}

/** The limits the flags set, the defaults elsewhere. */
export function limitsFrom(opts: Record<string, unknown>): ImageLimits {
  const limits: ImageLimits = { ...defaultLimits }
  for (const name of allLimits) {
    const value = opts[optionKey(LimitFlags[name])]
    if (typeof value !== 'string') continue
    if (counts.has(name)) {
      const n = Number(value)
      if (!Number.isSafeInteger(n) || n < 1) throw new UsageError(`${LimitFlags[name]} takes a whole number of at least 1, not "${value}"`)
      limits[name] = n
    } else {
      limits[name] = parseSize(value, LimitFlags[name])
    }
  }
  return limits
}

/** commander's attribute name for a flag: `--max-layer-size` -> `maxLayerSize`. */
function optionKey(flag: string): string {
  return flag.replace(/^--/, '').replace(/-([a-z])/g, (_, c: string) => c.toUpperCase())
}
