import { join } from 'node:path'
import { JsonListFile } from '../util/json-list-file.js'
import type { Pinning } from './backend.js'

/**
 * What `rpull --pin` pinned for one containerd image, so `image rm` can unpin what only that image
 * used. Pins someone else made (a push, the user) are never ours to remove: a CID already pinned
 * when rpull came to it is listed in `cids` but not in `owned`.
 */
export interface PinRecord {
  /** kubo's peer ID: API addresses change between restarts, the node does not. */
  node: string
  containerd: string
  namespace: string
  image: string
  /** Every CID of the image that rpull made sure is pinned. */
  cids: string[]
  /** The CIDs this record is responsible for unpinning. */
  owned: string[]
  pinnedAt: string
}

export type ImageKey = Pick<PinRecord, 'node' | 'containerd' | 'namespace' | 'image'>

const sameImage = (a: Omit<ImageKey, 'node'>, b: Omit<ImageKey, 'node'>): boolean =>
  a.containerd === b.containerd && a.namespace === b.namespace && a.image === b.image

/** `$IPCR_ROOT/pins.json`. */
export class PinLedger {
  private readonly file: JsonListFile<PinRecord>

  constructor(root: string) {
    this.file = new JsonListFile(join(root, 'pins.json'))
  }

  list(): Promise<PinRecord[]> {
    return this.file.read()
  }

  /** Change the records as one step among processes (a pull and an `image rm` may run at once). */
  update(change: (records: PinRecord[]) => PinRecord[] | undefined): Promise<void> {
    return this.file.update(change)
  }
}

/** Add or replace the record of one image; a re-pull keeps what the earlier pull owned. */
export function withPull(records: PinRecord[], pull: Omit<PinRecord, 'owned'>, newlyPinned: string[]): PinRecord[] {
  const previous = records.find((r) => r.node === pull.node && sameImage(r, pull))
  const owned = [...new Set([...(previous?.owned ?? []), ...newlyPinned])]
  return [...records.filter((r) => r !== previous), { ...pull, owned }]
}

/**
 * Forget the images in `removed`: each CID they owned is unpinned unless another image on the same
 * node still uses it, in which case that image takes over unpinning it.
 */
export function planRelease(records: PinRecord[], removed: Array<Omit<ImageKey, 'node'>>): { unpin: Map<string, string[]>; remaining: PinRecord[] } {
  const gone = records.filter((r) => removed.some((k) => sameImage(r, k)))
  const remaining = records.filter((r) => !gone.includes(r)).map((r) => ({ ...r, owned: [...r.owned] }))
  const unpin = new Map<string, string[]>()
  for (const record of gone) {
    for (const cid of record.owned) {
      const heir = remaining.find((r) => r.node === record.node && r.cids.includes(cid))
      if (heir) {
        if (!heir.owned.includes(cid)) heir.owned.push(cid)
        continue
      }
      const list = unpin.get(record.node) ?? []
      if (!list.includes(cid)) list.push(cid)
      unpin.set(record.node, list)
    }
  }
  return { unpin, remaining }
}

/**
 * What pinning a pull needs to know from the node (its peer ID, and whether each CID is pinned
 * already), asked as the CIDs become known while the pull still runs: at its end these calls were
 * the last 15 ms of every pull. A pin removed meanwhile by someone else is the one race this opens.
 */
export class PinQuery {
  readonly node: Promise<string>
  private readonly asked = new Map<string, Promise<boolean>>()

  constructor(readonly pinning: Pinning) {
    this.node = pinning.peerId()
    this.node.catch(() => undefined) // awaited, and reported, when the pins are made
  }

  isPinned(cid: string): Promise<boolean> {
    let answer = this.asked.get(cid)
    if (answer === undefined) {
      answer = this.pinning.isPinned(cid)
      answer.catch(() => undefined)
      this.asked.set(cid, answer)
    }
    return answer
  }
}

/** Pin each CID unless the node already has a recursive pin on it; returns those pinned now. */
export async function pinAll(query: PinQuery, cids: string[]): Promise<string[]> {
  // Two rounds, not two calls a CID: ask about every CID at once, then pin the missing ones in one call.
  const unique = [...new Set(cids)]
  const pinned = await Promise.all(unique.map((cid) => query.isPinned(cid)))
  const pinnedNow = unique.filter((_, i) => !pinned[i])
  await query.pinning.pin(pinnedNow)
  return pinnedNow
}

/**
 * After an rpull: pin the image's CIDs on the node (so it serves them to its peers) and remember
 * which pins this pull made.
 */
export async function pinPulledImage(query: PinQuery, ledger: PinLedger, image: Omit<ImageKey, 'node'>, cids: string[]): Promise<{ node: string; pinned: string[] }> {
  const [node, pinned] = await Promise.all([query.node, pinAll(query, cids)])
  const pull = { ...image, node, cids: [...new Set(cids)] }
  await ledger.update((records) => {
    // A re-pull that pinned nothing new and uses the same CIDs changes nothing: the ledger is not rewritten (and fsync'd).
    const previous = records.find((r) => r.node === node && sameImage(r, pull))
    if (pinned.length === 0 && previous !== undefined && sameSet(previous.cids, pull.cids)) return undefined
    return withPull(records, { ...pull, pinnedAt: new Date().toISOString() }, pinned)
  })
  return { node, pinned }
}

const sameSet = (a: readonly string[], b: readonly string[]): boolean => a.length === b.length && a.every((x) => b.includes(x))

/** A node's pins, opened only when there is something to unpin, and closed after. */
export type OpenPinning = () => Promise<{ pinning: Pinning; close(): Promise<void> } | undefined>

/**
 * After `image rm`: unpin what only the removed images used. The node is reached only when there
 * is something to unpin; pins on another node than the one reached are left, and said so.
 */
export async function releaseImagePins(ledger: PinLedger, removed: Array<Omit<ImageKey, 'node'>>, open: OpenPinning): Promise<{ unpinned: string[]; left: Array<{ node: string; cids: string[]; why: string }> }> {
  const records = await ledger.list()
  const { unpin, remaining } = planRelease(records, removed)
  if (remaining.length === records.length) return { unpinned: [], left: [] }
  const left: Array<{ node: string; cids: string[]; why: string }> = []
  const unpinned: string[] = []
  let keep: PinRecord[] = []
  if (unpin.size > 0) {
    let openError = 'no kubo answered'
    const node = await open().catch((err: Error) => { openError = err.message; return undefined })
    try {
      const here = node ? await node.pinning.peerId().catch(() => undefined) : undefined
      for (const [peer, cids] of unpin) {
        if (node && here === peer) {
          await node.pinning.unpin(cids)
          unpinned.push(...cids)
        } else {
          left.push({ node: peer, cids, why: node ? `the kubo reached is node ${here ?? 'unknown'}` : openError })
          // Keep the removed records of that node: a later pull of the same name inherits their pins.
          keep = keep.concat(records.filter((r) => r.node === peer && removed.some((k) => sameImage(r, k))))
        }
      }
    } finally {
      await node?.close()
    }
  }
  // Written against the records as they are now: other pulls may have landed while we unpinned.
  const gone = (r: PinRecord): boolean => removed.some((k) => sameImage(r, k))
  const kept = (r: PinRecord): boolean => keep.some((k) => k.node === r.node && sameImage(k, r))
  await ledger.update((now) => {
    const heirs = new Map(remaining.map((r) => [`${r.node}\0${r.containerd}\0${r.namespace}\0${r.image}`, r]))
    return now.filter((r) => !gone(r) || kept(r)).map((r) => {
      const heir = heirs.get(`${r.node}\0${r.containerd}\0${r.namespace}\0${r.image}`)
      // An heir took over unpinning some of the removed images' CIDs.
      return heir ? { ...r, owned: [...new Set([...r.owned, ...heir.owned])] } : r
    })
  })
  return { unpinned, left }
}
