import type { CommandResult, GlobalOptions } from '../cli/globals.js'
import { ContainerdClient } from '../containerd/client.js'

/** `ipcr image ls`: images in containerd's namespace, as `ctr images ls` lists them. */
export async function run(_args: string[], opts: Record<string, unknown>, globals: GlobalOptions): Promise<CommandResult> {
  const client = await ContainerdClient.connect({ address: globals.address, namespace: globals.namespace })
  try {
    const images = (await client.images.list()).sort((a, b) => a.name.localeCompare(b.name))
    if (opts.quiet === true) return { text: images.map((i) => i.name).join('\n'), json: images.map((i) => i.name) }
    const rows = [['REF', 'TYPE', 'DIGEST', 'SIZE'], ...images.map((i) => [i.name, i.target.mediaType, i.target.digest, String(i.target.size)])]
    const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => (r[c] ?? '').length)))
    return {
      text: rows.map((r) => r.map((cell, c) => cell.padEnd(widths[c] ?? 0)).join('  ').trimEnd()).join('\n'),
      json: images.map((i) => ({ name: i.name, target: i.target, labels: i.labels })),
    }
  } finally {
    await client.close()
  }
}
