import type { CommandResult, GlobalOptions } from '../cli/globals.js'
import { ContainerdClient } from '../containerd/client.js'

/** `ipcr container ls`: containers in containerd's namespace, as `ctr containers ls` lists them. */
export async function run(_args: string[], opts: Record<string, unknown>, globals: GlobalOptions): Promise<CommandResult> {
  const client = await ContainerdClient.connect({ address: globals.address, namespace: globals.namespace })
  try {
    const containers = (await client.containers.list()).sort((a, b) => a.id.localeCompare(b.id))
    if (opts.quiet === true) return { text: containers.map((c) => c.id).join('\n'), json: containers.map((c) => c.id) }
    const rows = [['CONTAINER', 'IMAGE', 'RUNTIME'], ...containers.map((c) => [c.id, c.image || '-', c.runtime.name])]
    const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)))
    return {
      text: rows.map((r) => r.map((cell, i) => cell.padEnd(widths[i] ?? 0)).join('  ').trimEnd()).join('\n'),
      json: containers.map((c) => ({
        id: c.id, image: c.image, runtime: c.runtime.name, snapshotter: c.snapshotter, snapshotKey: c.snapshotKey, labels: c.labels,
        createdAt: c.createdAt?.toISOString(),
      })),
    }
  } finally {
    await client.close()
  }
}
