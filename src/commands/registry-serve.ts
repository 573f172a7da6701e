import type { CommandResult, GlobalOptions } from '../cli/globals.js'
import { log } from '../cli/log.js'
import { registryServeOptionsFrom } from '../cli/registry-serve-options.js'
import { UsageError } from '../errors.js'
import { parseListen } from '../ipfs/serve.js'
import { openIpfs } from '../ipfs/select.js'
import { formatAccess, type LogFormat } from '../registry/access-log.js'
import { startRegistry } from '../registry/start.js'
import { parseDuration } from '../util/duration.js'

interface Options { listen: string; resolveTimeout: string; logFormat: string }

/**
 * `ipcr registry serve`: the OCI distribution API over IPFS (pull; push with --allow-push), until SIGINT or
 * SIGTERM, which drain the requests in flight. The URL goes to stdout once listening (port 0: how
 * a script learns the port); a line per request goes to stderr.
 */
export async function run(_args: string[], opts: Record<string, unknown>, globals: GlobalOptions): Promise<CommandResult> {
  const o = opts as unknown as Options
  if (o.logFormat !== 'text' && o.logFormat !== 'json') throw new UsageError(`--log-format ${o.logFormat}: expected text or json`)
  const format: LogFormat = o.logFormat
  const listen = parseListen(o.listen)
  const resolveTimeoutMs = parseDuration(o.resolveTimeout, '--resolve-timeout')
  const serve = await registryServeOptionsFrom(opts)
  const { backend, note } = await openIpfs({ api: globals.ipfsApi, notify: (m) => log.info(m) })
  log.info(note)
  try {
    const server = await startRegistry(backend, {
      ...listen, ...serve, resolveTimeoutMs, notify: (m) => log.info(m),
      onRequest: (e) => process.stderr.write(`${formatAccess(e, format)}\n`),
    })
    log.info(`serving images from IPFS as an OCI registry at ${server.url} (pull with: ctr images pull --plain-http ${server.url.replace(/^https?:\/\//, '')}/ipfs/<CID>:latest)`)
    process.stdout.write(`${server.url}\n`)
    const signal = await new Promise<NodeJS.Signals>((resolve) => {
      process.once('SIGINT', () => resolve('SIGINT'))
      process.once('SIGTERM', () => resolve('SIGTERM'))
    })
    log.info(`${signal}: draining the requests in flight, then stopping`)
    await server.close()
  } finally {
    await backend.close()
  }
  return { text: '' }
}
