/**
 * The order the Go writer (estargz.Build) gives entries: a later entry with the same cleaned name
 * replaces an earlier one and takes the later place; existing landmarks and TOCs are dropped;
 * prioritized files come first (each after its parent directories and, for a hard link, after
 * its target), then the `.prefetch.landmark`; with no prioritized files `.no.prefetch.landmark`
 * leads instead. The rest keep their input order.
 */
import { NO_PREFETCH_LANDMARK, PREFETCH_LANDMARK, TOC_TAR_NAME } from './constants.js'
import { UsageError } from '../errors.js'
import { cleanEntryName } from './toc.js'
import type { TarEntry } from './tar.js'

/** A landmark the writer makes itself. */
export interface Landmark {
  landmark: typeof PREFETCH_LANDMARK | typeof NO_PREFETCH_LANDMARK
}

export type Ordered = TarEntry | Landmark

export function isLandmark(e: Ordered): e is Landmark {
  return 'landmark' in e
}

export interface OrderResult {
  entries: Ordered[]
  /** Prioritized names not found in the layer (only when allowed). */
  missed: string[]
}

export function orderEntries(input: readonly TarEntry[], prioritized: readonly string[] = [], allowMissing = false): OrderResult {
  // importTar: keep the last entry of each cleaned name, at the later position.
  const index = new Map<string, TarEntry>()
  const slot = new Map<TarEntry, number>()
  const stream: (TarEntry | undefined)[] = []
  for (const e of input) {
    const name = cleanEntryName(e.name)
    if (name === PREFETCH_LANDMARK || name === NO_PREFETCH_LANDMARK || name === TOC_TAR_NAME) continue
    const prev = index.get(name)
    if (prev) stream[slot.get(prev)!] = undefined
    index.set(name, e)
    slot.set(e, stream.length)
    stream.push(e)
  }

  const sorted: Ordered[] = []
  const sortedNames = new Set<string>()
  const picked = new Set<string>()
  const missed: string[] = []
  const moveRec = (raw: string): boolean => {
    const name = cleanEntryName(raw)
    if (name === '') {
      const root = index.get('')
      if (root && !picked.has('')) {
        sorted.push(root)
        sortedNames.add('')
        picked.add('')
      }
      return true
    }
    if (!index.has(name) && !sortedNames.has(name) && !picked.has(name)) return false
    const slash = name.lastIndexOf('/')
    if (!moveRec(slash < 0 ? '' : name.slice(0, slash))) return false
    const e = index.get(name)
    if (e && e.type === 'hardlink' && !moveRec(e.linkname)) return false
    if (picked.has(name)) return true
    if (e) {
      sorted.push(e)
      sortedNames.add(name)
      picked.add(name)
    }
    return true
  }
  for (const p of prioritized) {
    if (moveRec(p)) continue
    if (!allowMissing) throw new UsageError(`prioritized file ${JSON.stringify(p)} is not in the layer`)
    missed.push(p)
  }
  sorted.push({ landmark: prioritized.length === 0 ? NO_PREFETCH_LANDMARK : PREFETCH_LANDMARK })
  for (const e of stream) {
    if (e && !picked.has(cleanEntryName(e.name))) sorted.push(e)
  }
  return { entries: sorted, missed }
}
