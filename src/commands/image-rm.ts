import type { CommandResult, GlobalOptions } from '../cli/globals.js'
import { ContainerdClient } from '../containerd/client.js'
import { NotFoundError } from '../errors.js'

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
  if (missing.length > 0) throw new NotFoundError(`no image ${missing.map((m) => `"${m}"`).join(', ')} in containerd namespace "${globals.namespace}"`)
  return { text: args.join('\n'), json: { removed: args } }
}
