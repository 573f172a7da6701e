import type { CommandResult, GlobalOptions } from '../cli/globals.js'
import { ContainerdClient } from '../containerd/client.js'

/** `ipcr task ls`: tasks in containerd's namespace, as `ctr task ls` lists them. */
export async function run(_args: string[], opts: Record<string, unknown>, globals: GlobalOptions): Promise<CommandResult> {
  const client = await ContainerdClient.connect({ address: globals.address, namespace: globals.namespace })
  try {
    const tasks = (await client.tasks.list()).sort((a, b) => a.containerId.localeCompare(b.containerId))
    if (opts.quiet === true) return { text: tasks.map((t) => t.containerId).join('\n'), json: tasks.map((t) => t.containerId) }
    const rows = [['TASK', 'PID', 'STATUS'], ...tasks.map((t) => [t.containerId, String(t.pid), t.status])]
    const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)))
    return {
      text: rows.map((r) => r.map((cell, i) => cell.padEnd(widths[i] ?? 0)).join('  ').trimEnd()).join('\n'),
      json: tasks.map((t) => ({ id: t.containerId, pid: t.pid, status: t.status, exitStatus: t.exitStatus })),
    }
  } finally {
    await client.close()
  }
}
