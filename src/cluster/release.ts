import { ClusterClient } from './client.js'
import type { ClusterPinLedger } from './ledger.js'

/**
 * After `image rm`: unpin through each cluster what this machine pinned there under the removed
 * names, keeping any CID another recorded image of the same cluster still uses. A cluster that
 * does not answer keeps its records, so a later `image rm` or `gc` can try again.
 */
export async function releaseClusterPins(ledger: ClusterPinLedger, names: readonly string[]): Promise<{ unpinned: number; failed: string[] }> {
  const records = await ledger.list()
  const gone = records.filter((r) => names.includes(r.name))
  let unpinned = 0
  const failed: string[] = []
  const released = new Set<typeof gone[number]>()
  for (const record of gone) {
    const stillUsed = new Set(records.filter((r) => r.cluster === record.cluster && !gone.includes(r)).flatMap((r) => r.cids))
    const client = new ClusterClient(record.cluster)
    try {
      for (const cid of record.cids) {
        if (stillUsed.has(cid)) continue
        await client.unpin(cid)
        unpinned++
      }
      released.add(record)
    } catch (err) {
      failed.push(`${record.name} on ${record.cluster}: ${(err as Error).message}`)
    }
  }
  await ledger.update((now) => now.filter((r) => ![...released].some((g) => g.cluster === r.cluster && g.root === r.root)))
  return { unpinned, failed }
}
