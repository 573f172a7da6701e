import { createHash } from 'node:crypto'
import { IntegrityError } from '../errors.js'
import { isDigest, type Digest } from '../oci/digest.js'

/** Layer diff IDs from an image config (rootfs.diff_ids). */
export function diffIdsOf(config: Uint8Array, what = 'config'): Digest[] {
  let parsed: unknown
  try { parsed = JSON.parse(Buffer.from(config).toString('utf8')) } catch { throw new IntegrityError(`${what} is not valid JSON`) }
  const ids = (parsed as { rootfs?: { diff_ids?: unknown } } | null)?.rootfs?.diff_ids
  if (!Array.isArray(ids) || !ids.every(isDigest)) throw new IntegrityError(`${what} has no valid rootfs.diff_ids`)
  return ids
}

/** chain[0] = diff[0]; chain[i] = sha256(chain[i-1] + " " + diff[i]): the names of committed layer snapshots. */
export function chainIds(diffIds: readonly Digest[]): Digest[] {
  const out: Digest[] = []
  for (const d of diffIds) {
    const prev = out[out.length - 1]
    out.push(prev === undefined ? d : `sha256:${createHash('sha256').update(`${prev} ${d}`).digest('hex')}`)
  }
  return out
}
