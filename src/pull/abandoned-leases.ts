import { createHash } from 'node:crypto'
import type { ContainerdClient } from '../containerd/client.js'
import { isRunning, selfIdentity } from '../util/process-identity.js'

/** Which image a pull's lease is for (a hash: label filters take plain values only). */
export const pullLabel = 'ipcr.io/rpull'
/** The process that made the lease, as util/process-identity names it. */
export const ownerLabel = 'ipcr.io/owner'

export function pullKey(name: string): string {
  return createHash('sha256').update(name).digest('hex').slice(0, 32)
}

/** Labels for the lease of a pull of `name` by this process. */
export function pullLeaseLabels(name: string): Record<string, string> {
  return { [pullLabel]: pullKey(name), [ownerLabel]: selfIdentity() }
}

/**
 * A pull that was killed leaves its lease behind, holding its content, its half-written ingests
 * and its snapshots until the lease expires a day later. The next pull of the same image takes
 * them over: it moves what those leases hold into its own lease (so a half-fetched layer still
 * resumes), then deletes them. What the new pull does not use is garbage once its lease is gone.
 * Leases of pulls still running (their owner lives) are left alone. Returns how many were taken.
 */
export async function adoptAbandonedPulls(client: ContainerdClient, leaseId: string, name: string): Promise<number> {
  const leases = await client.leases.list([`labels."${pullLabel}"==${pullKey(name)}`])
  let adopted = 0
  for (const lease of leases) {
    const owner = lease.labels[ownerLabel]
    if (lease.id === leaseId || owner === undefined || isRunning(owner)) continue
    for (const resource of await client.leases.listResources(lease.id)) {
      await client.leases.addResource(leaseId, resource)
    }
    await client.leases.delete(lease.id)
    adopted++
  }
  return adopted
}
