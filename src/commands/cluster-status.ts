import { clusterTargetFrom } from '../cli/cluster-options.js'
import type { CommandResult, GlobalOptions } from '../cli/globals.js'
import { log } from '../cli/log.js'
import { ClusterClient } from '../cluster/client.js'
import { imageClusterStatus } from '../cluster/image-status.js'
import { UsageError } from '../errors.js'
import { openIpfs } from '../ipfs/select.js'
import { parseDuration } from '../util/duration.js'

/** `ipcr cluster status REF|CID`: per cluster peer, how many of the image's CIDs are pinned, queued or failed there. */
export async function run(args: string[], opts: Record<string, unknown>, globals: GlobalOptions): Promise<CommandResult> {
  const target = clusterTargetFrom(opts)
  if (!target) throw new UsageError('which cluster? give --cluster http://HOST:9094 or set IPCR_CLUSTER_API')
  const { backend, note } = await openIpfs({ api: globals.ipfsApi, notify: (m) => log.info(m) })
  log.info(note)
  try {
    const s = await imageClusterStatus(new ClusterClient(target.url), backend, args[0] ?? '', { timeoutMs: parseDuration(opts.timeout as string, '--timeout') })
    const states = [...new Set(s.peers.flatMap((p) => Object.keys(p.states)))].sort((a, b) => (a === 'pinned' ? -1 : b === 'pinned' ? 1 : a.localeCompare(b)))
    const rows = s.peers.map((p) => [`${p.peername || '?'} ${p.peer}`, ...states.map((st) => `${p.states[st] ?? 0}/${s.cids.length}`)])
    const lines = [
      `root ${s.root}: ${s.cids.length} CIDs${s.notPinned.length > 0 ? `, ${s.notPinned.length} not pinned in the cluster` : ''}`,
      ...table([['PEER', ...states.map((st) => st.toUpperCase())], ...rows]),
      ...s.peers.flatMap((p) => Object.entries(p.errors).map(([cid, e]) => `${p.peername}: ${cid}: ${e}`)),
    ]
    return { text: lines.join('\n'), json: s }
  } finally {
    await backend.close()
  }
}

function table(rows: string[][]): string[] {
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length))) ?? []
  return rows.map((r) => r.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  ').trimEnd())
}
