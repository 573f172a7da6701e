import { Option, type Command } from 'commander'
import { UsageError } from '../errors.js'
import type { ImageLimits } from '../oci/limits.js'
import type { RegistryOptions } from '../stores/registry/index.js'
import { log } from './log.js'

function parseTlsVerify(value: string | undefined): boolean {
  if (value === undefined || value === 'true' || value === '1') return true
  if (value === 'false' || value === '0') return false
  throw new UsageError(`--tls-verify takes true or false, not "${value}"`)
}

/** skopeo's names for the flags of a docker:// location, on the commands that take one. */
export function addRegistryOptions(cmd: Command): Command {
  return cmd
    .option('--creds <user:password>', 'credentials for a docker:// registry (default: $REGISTRY_AUTH_FILE, containers auth.json, ~/.docker/config.json)')
    .addOption(new Option('--tls-verify [bool]', 'verify a docker:// registry\'s TLS certificate (--tls-verify=false also allows plain HTTP)').argParser(parseTlsVerify).default(true))
}

/** The registry options the flags set; the manifest limit comes along so the registry reads no more than the walk would. */
export function registryOptionsFrom(opts: Record<string, unknown>, limits?: ImageLimits): RegistryOptions {
  return {
    ...(typeof opts.creds === 'string' ? { creds: opts.creds } : {}),
    ...(opts.tlsVerify === false ? { tlsVerify: false } : {}),
    ...(limits ? { manifestSize: limits.manifestSize } : {}),
    debug: (message) => log.debug(message),
  }
}
