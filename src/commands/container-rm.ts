import type { CommandResult, GlobalOptions } from '../cli/globals.js'
import { ContainerdClient } from '../containerd/client.js'
import { IpcrError, NotFoundError } from '../errors.js'
import { removeContainer } from '../run/run.js'

/**
 * `ipcr container rm [-f] ID…`: delete containers and their snapshots, as `ctr containers rm` does.
 * A stopped task is deleted first; a running one only with --force (killed, then deleted).
 */
export async function run(args: string[], opts: Record<string, unknown>, globals: GlobalOptions): Promise<CommandResult> {
  const client = await ContainerdClient.connect({ address: globals.address, namespace: globals.namespace })
  const removed: string[] = []
  const failed: string[] = []
  let missing = 0
  try {
    for (const id of args) {
      try {
        const container = await client.containers.get(id)
        await removeTask(client, id, opts.force === true)
        await removeContainer(client, id, container.snapshotter, container.snapshotKey)
        removed.push(id)
      } catch (err) {
        if (!(err instanceof IpcrError)) throw err
        if (err instanceof NotFoundError) missing++
        failed.push(err instanceof NotFoundError ? `no container "${id}" in namespace "${globals.namespace}"` : `${id}: ${err.message}`)
      }
    }
  } finally {
    await client.close()
  }
  if (failed.length > 0) {
    const message = `${failed.join('; ')}${removed.length > 0 ? ` (removed ${removed.join(', ')})` : ''}`
    throw missing === failed.length ? new NotFoundError(message) : new IpcrError(message)
  }
  return { text: removed.join('\n'), json: { removed } }
}

async function removeTask(client: ContainerdClient, id: string, force: boolean): Promise<void> {
  let status: string
  try {
    status = (await client.tasks.get(id)).status
  } catch (err) {
    if (err instanceof NotFoundError) return
    throw err
  }
  if (status !== 'STOPPED' && status !== 'CREATED') {
    if (!force) throw new IpcrError(`its task is ${status.toLowerCase()}; stop it with ipcr task kill ${id}, or remove it anyway with --force`)
    const exited = client.tasks.wait(id)
    await client.tasks.kill(id, 9, { all: true })
    await exited
  }
  await client.tasks.delete(id).catch((err: unknown) => { if (!(err instanceof NotFoundError)) throw err })
}
