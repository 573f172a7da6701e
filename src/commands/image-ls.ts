import type { CommandResult, GlobalOptions } from '../cli/globals.js'
import { ContainerdClient } from '../containerd/client.js'
import { ipcrRoot } from '../ipfs/embedded.js'
import { PushHistory } from '../ipfs/history.js'

/** `ipcr image ls`: images in containerd's namespace, as `ctr images ls` lists them. */
function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => (r[c] ?? '').length)))
  return rows.map((r) => r.map((cell, c) => cell.padEnd(widths[c] ?? 0)).join('  ').trimEnd()).join('\n')
}

/** `image ls --ipfs`: references this machine pushed, from the push history in $IPCR_ROOT. */
async function listPushed(): Promise<CommandResult> {
  const pushes = await new PushHistory(ipcrRoot()).list()
  return {
    text: table([['REF', 'ROOT CID', 'IPNS NAME', 'EXPIRES'], ...pushes.map((p) => [p.ref, p.root, p.ipnsName ?? '-', p.expires ?? '-'])]),
    json: pushes,
  }
}

export async function run(_args: string[], opts: Record<string, unknown>, globals: GlobalOptions): Promise<CommandResult> {
  if (opts.ipfs === true) return listPushed()
  const client = await ContainerdClient.connect({ address: globals.address, namespace: globals.namespace })
  try {
    const images = (await client.images.list()).sort((a, b) => a.name.localeCompare(b.name))
    if (opts.quiet === true) return { text: images.map((i) => i.name).join('\n'), json: images.map((i) => i.name) }
    return {
      text: table([['REF', 'TYPE', 'DIGEST', 'SIZE'], ...images.map((i) => [i.name, i.target.mediaType, i.target.digest, String(i.target.size)])]),
      json: images.map((i) => ({ name: i.name, target: i.target, labels: i.labels })),
    }
  } finally {
    await client.close()
  }
}
