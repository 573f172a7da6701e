import type { CommandResult, GlobalOptions } from '../cli/globals.js'
import { ContainerdClient } from '../containerd/client.js'
import { NotFoundError } from '../errors.js'
import { log } from '../cli/log.js'
import { ipcrRoot } from '../ipfs/embedded.js'
import { KuboClient } from '../ipfs/kubo.js'
import { PinLedger, releaseImagePins } from '../ipfs/pins.js'
import { openIpfs } from '../ipfs/select.js'

/** `ipcr image rm NAME…`: delete image records; containerd's GC then frees what only they held. */
export async function run(args: string[], _opts: Record<string, unknown>, globals: GlobalOptions): Promise<CommandResult> {
  const client = await ContainerdClient.connect({ address: globals.address, namespace: globals.namespace })
  const missing: string[] = []
  try {
    for (const name of args) {
      try {
        // The last deletion waits for GC, so content and snapshots are gone when we return.
        await client.images.delete(name, { sync: name === args[args.length - 1] })
      } catch (err) {
        if (!(err instanceof NotFoundError)) throw err
        missing.push(name)
      }
    }
  } finally {
    await client.close()
  }
  // Unpin on kubo what `rpull --pin` pinned for these images and no other image still uses.
  const removed = args.filter((n) => !missing.includes(n)).map((image) => ({ containerd: globals.address, namespace: globals.namespace, image }))
  const pins = await releaseImagePins(new PinLedger(ipcrRoot()), removed, async () => {
    const { backend } = await openIpfs({ api: globals.ipfsApi })
    if (backend instanceof KuboClient) return backend
    await backend.close()
    return undefined
  })
  if (pins.unpinned.length > 0) log.info(`unpinned ${pins.unpinned.length} blob(s) only ${removed.length === 1 ? 'this image' : 'these images'} used`)
  for (const l of pins.left) log.info(`left ${l.cids.length} pin(s) on kubo node ${l.node} (${l.why}): ${l.cids.join(' ')}`)
  if (missing.length > 0) throw new NotFoundError(`no image ${missing.map((m) => `"${m}"`).join(', ')} in containerd namespace "${globals.namespace}"`)
  return { text: args.join('\n'), json: { removed: args } }
}
