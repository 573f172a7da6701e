import { open } from 'node:fs/promises'
import type { CommandResult } from '../cli/globals.js'
import { log } from '../cli/log.js'
import { UsageError } from '../errors.js'
import { newSwarmKey } from '../ipfs/swarm-key.js'

interface Options { output?: string; force: boolean }

/** `ipcr ipfs swarm-key [-o FILE]`: a new private-network key, on stdout or in a file only its owner reads. */
export async function run(_args: string[], opts: Record<string, unknown>): Promise<CommandResult> {
  const o = opts as unknown as Options
  const key = newSwarmKey()
  if (o.output === undefined || o.output === '-') return { text: key.trimEnd() }
  const fh = await open(o.output, o.force ? 'w' : 'wx', 0o600).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'EEXIST') throw new UsageError(`${o.output} exists: a swarm key is not overwritten unless --force is given`)
    throw new UsageError(`cannot write ${o.output}: ${err.message}`)
  })
  try {
    await fh.writeFile(key)
    await fh.chmod(0o600)
  } finally {
    await fh.close()
  }
  log.info(`wrote a new swarm key to ${o.output}; copy it to $IPFS_PATH/swarm.key on every node of the network`)
  return { text: '' }
}
