import type { CommandResult, GlobalOptions } from '../cli/globals.js'
import { stopSignalLabel } from '../containerd/containers.js'
import { ContainerdClient } from '../containerd/client.js'
import { NotFoundError } from '../errors.js'
import { parseSignal } from '../run/signals.js'

/**
 * `ipcr task kill [-s SIGNAL] [--all] ID`: signal a container's task, as `ctr task kill` does; by
 * default with the container's stop signal (the image's StopSignal, else SIGTERM).
 */
export async function run(args: string[], opts: Record<string, unknown>, globals: GlobalOptions): Promise<CommandResult> {
  const id = args[0] ?? ''
  const given = typeof opts.signal === 'string' ? parseSignal(opts.signal) : undefined
  const client = await ContainerdClient.connect({ address: globals.address, namespace: globals.namespace })
  try {
    const container = await client.containers.get(id).catch((err: unknown) => {
      throw err instanceof NotFoundError ? new NotFoundError(`no container "${id}" in namespace "${globals.namespace}"`, { cause: err }) : err
    })
    const signal = given ?? parseSignal(container.labels[stopSignalLabel] || 'SIGTERM')
    await client.tasks.kill(id, signal, { all: opts.all === true }).catch((err: unknown) => {
      throw err instanceof NotFoundError ? new NotFoundError(`container "${id}" has no running task`, { cause: err }) : err
    })
    return { text: '' }
  } finally {
    await client.close()
  }
}
