import { join } from 'node:path'
import type { CommandResult, GlobalOptions } from '../cli/globals.js'
import { log } from '../cli/log.js'
import { EmbeddedIpfs } from '../ipfs/embedded.js'
import { parseListen, serveGateway } from '../ipfs/serve.js'

interface Options { listen: string }

/**
 * `ipcr ipfs serve`: the embedded store as a trustless gateway, until SIGINT or SIGTERM. The URL is
 * printed on stdout as soon as it listens (with port 0, that is how a script learns the port).
 */
export async function run(_args: string[], opts: Record<string, unknown>, globals: GlobalOptions): Promise<CommandResult> {
  const o = opts as unknown as Options
  const store = new EmbeddedIpfs()
  const server = await serveGateway(store.blocks, parseListen(o.listen), {
    ipnsDir: join(store.root, 'ipns'),
    ...(globals.debug ? { onRequest: (line: string) => log.debug(line) } : {}),
  })
  log.info(`serving the ${store.description} as a trustless gateway at ${server.url} (pull with: ipcr i rpull --gateway ${server.url} --ipfs <CID>)`)
  process.stdout.write(`${server.url}\n`)
  const signal = await new Promise<NodeJS.Signals>((resolve) => {
    process.once('SIGINT', () => resolve('SIGINT'))
    process.once('SIGTERM', () => resolve('SIGTERM'))
  })
  log.info(`${signal}: stopping`)
  await server.close()
  return { text: '' }
}
