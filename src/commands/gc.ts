import type { CommandResult, GlobalOptions } from '../cli/globals.js'
import { log } from '../cli/log.js'
import { collectGarbage } from '../gc/collect.js'
import { parseDuration } from '../util/duration.js'
import { formatSize, parseSize } from '../util/size.js'

interface Options { keepSize?: string; keepAge?: string; dryRun: boolean; cluster?: string }

/** `ipcr gc`: unpin what is beyond the bounds (least recently pulled first), then kubo's repo GC; says what was freed. */
export async function run(_args: string[], opts: Record<string, unknown>, globals: GlobalOptions): Promise<CommandResult> {
  const o = opts as unknown as Options
  const r = await collectGarbage({
    ipfsApi: globals.ipfsApi, dryRun: o.dryRun, notify: (m) => log.info(m),
    ...(o.keepSize !== undefined ? { keepSize: parseSize(o.keepSize, '--keep-size') } : {}),
    ...(o.keepAge !== undefined ? { keepAgeMs: parseDuration(o.keepAge, '--keep-age') } : {}),
    ...(o.cluster !== undefined ? { cluster: o.cluster } : {}),
  })
  const verb = o.dryRun ? 'would unpin' : 'unpinned'
  const lines = [
    ...r.removed.map((i) => `${verb} ${i.image} (${i.namespace}, ${formatSize(i.size)}, last pulled ${new Date(i.lastPulled).toISOString()})`),
    ...r.images.filter((i) => i.keep !== undefined).map((i) => `kept ${i.image}: ${i.keep}`),
    `pinned images: ${formatSize(r.pinnedBefore)} -> ${formatSize(r.pinnedAfter)}${r.repo ? `; kubo repo ${formatSize(r.repo.before)} -> ${formatSize(r.repo.after)} (freed ${formatSize(Math.max(r.repo.before - r.repo.after, 0))})` : ''}`,
  ]
  return { text: lines.join('\n'), json: r }
}
