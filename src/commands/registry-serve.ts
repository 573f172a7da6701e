import type { CommandResult, GlobalOptions } from '../cli/globals.js'
import { log } from '../cli/log.js'
import { serveOptionsFrom } from '../cli/registry-serve-options.js'
import { openIpfs } from '../ipfs/select.js'
import { formatAccess } from '../registry/access-log.js'
import { startRegistry } from '../registry/start.js'

/**
 * `ipcr registry serve`: the OCI distribution API over IPFS (pull; push with --allow-push), until SIGINT or
 * SIGTERM, which drain the requests in flight. The URL goes to stdout once listening (port 0: how
 * a script learns the port); a line per request goes to stderr. Flags are checked, and who may
 * push decided, before IPFS is opened.
 */
export async function run(_args: string[], opts: Record<string, unknown>, globals: GlobalOptions): Promise<CommandResult> {
  const o = await serveOptionsFrom(opts, (m) => log.info(m))
  const { backend, note } = await openIpfs({ api: globals.ipfsApi, notify: (m) => log.info(m) })
  log.info(note)
  try {
    const server = await startRegistry(backend, {
      ...o.listen, ...(o.tls ? { tls: o.tls } : {}), resolveTimeoutMs: o.resolveTimeoutMs, gate: o.gate, notify: (m) => log.info(m),
      ...(o.push ? { push: o.push } : {}), ...(o.cluster ? { cluster: o.cluster } : {}), ...(o.gc ? { gc: o.gc } : {}),
      ...(globals.ipfsApi !== undefined ? { ipfsApi: globals.ipfsApi } : {}), ...(o.storageDir !== undefined ? { storageDir: o.storageDir } : {}),
      onRequest: (e) => process.stderr.write(`${formatAccess(e, o.format)}\n`),
    })
    log.info(`serving images from IPFS as an OCI registry at ${server.url} (pull with: ctr images pull --plain-http ${server.url.replace(/^https?:\/\//, '')}/ipfs/<CID>:latest)`)
    log.info(o.gate.summary)
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
