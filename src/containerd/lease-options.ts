import { randomBytes } from 'node:crypto'

/** containerd's garbage collector drops a lease (and what only it holds) after this RFC 3339 time. */
export const expireLabel = 'containerd.io/gc.expire'

export interface LeaseOptions {
  /** A fixed id, for a lease that outlives this command and is removed by its paired one; random otherwise. */
  id?: string
  /** Milliseconds containerd keeps the lease if nobody deletes it (a crash): one day by default, as ctr; false: forever. */
  expire?: number | false
  labels?: Record<string, string>
}

const day = 24 * 60 * 60 * 1000

/** An id like containerd's WithRandomID, prefixed so `ctr leases ls` shows whose it is. */
export function randomLeaseId(now: Date = new Date()): string {
  return `ipcr-${now.getTime()}-${randomBytes(3).toString('base64url')}`
}

/** Go's time.RFC3339 in UTC: no fractional seconds. */
export function rfc3339(date: Date): string {
  return date.toISOString().replace(/\.\d{3}Z$/, 'Z')
}

/** The id and labels of the lease to create. */
export function leaseRequest(opts: LeaseOptions = {}, now: Date = new Date()): { id: string; labels: Record<string, string> } {
  const expire = opts.expire ?? day
  const labels: Record<string, string> = expire === false ? {} : { [expireLabel]: rfc3339(new Date(now.getTime() + expire)) }
  return { id: opts.id ?? randomLeaseId(now), labels: { ...labels, ...opts.labels } }
}
