import { UsageError } from '../errors.js'
import { hostPlatform, parsePlatform, type PlatformSelection } from '../oci/platform.js'

/** `--platform P`… or `--all-platforms`, as ctr takes them; this host's platform by default. */
export function platformsFrom(opts: Record<string, unknown>): PlatformSelection {
  const only = Array.isArray(opts.platform) ? (opts.platform as string[]) : []
  if (opts.allPlatforms === true && only.length > 0) throw new UsageError('--platform and --all-platforms cannot be used together')
  if (opts.allPlatforms === true) return { all: true }
  return { all: false, only: only.length > 0 ? only.map(parsePlatform) : [hostPlatform()] }
}
