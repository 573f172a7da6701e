import type { CommandResult, GlobalOptions } from '../cli/globals.js'
import { log } from '../cli/log.js'
import { UsageError } from '../errors.js'
import { importCar } from '../ipfs/car-import.js'
import { cidText } from '../ipfs/cid.js'
import { openIpfs } from '../ipfs/select.js'

/** `ipcr ipfs import FILE`: load a CAR (e.g. from `ipfs-push --car`) into kubo or the embedded store; prints its roots. */
export async function run(args: string[], _opts: Record<string, unknown>, globals: GlobalOptions): Promise<CommandResult> {
  const file = args[0]
  if (!file) throw new UsageError('give the CAR file to import')
  const { backend, note } = await openIpfs({ api: globals.ipfsApi })
  log.info(note)
  try {
    const r = await importCar(file, backend)
    // kubo pins the roots it imports (dag import); the embedded store keeps everything anyway.
    const pinned = backend.pinning ? `, ${r.roots.length} root(s) pinned` : ''
    log.info(`imported ${r.blocks} blocks (${r.bytes} bytes, every one checked against its CID) into the ${backend.description}${pinned}`)
    const roots = r.roots.map(cidText)
    return { text: roots.join('\n'), json: { roots, blocks: r.blocks, bytes: r.bytes, backend: r.backend } }
  } finally {
    await backend.close()
  }
}
