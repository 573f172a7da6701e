import type { IpfsBackend } from '../ipfs/backend.js'
import { cidText } from '../ipfs/cid.js'
import { parsePullRef } from '../ipfs/ref.js'
import { resolvePullRef } from '../ipfs/resolve.js'
import { walkImage } from '../stores/ipfs-walk.js'
import type { ClusterClient, PeerPinStatus } from './client.js'

/** One peer's share of an image: how many of its CIDs are in each state there. */
export interface PeerImageStatus {
  peer: string
  peername: string
  /** CIDs by tracker state (pinned, pinning, pin_queued, pin_error, remote, …). */
  states: Record<string, number>
  /** Errors the peer reported, by CID. */
  errors: Record<string, string>
}

export interface ImageClusterStatus {
  root: string
  cids: string[]
  /** CIDs the cluster holds no pin for at all. */
  notPinned: string[]
  peers: PeerImageStatus[]
}

/**
 * Where every CID of an image stands in the cluster, per peer: the image is resolved (CID, IPNS
 * name or reference) and walked from its root, so the answer covers the whole image, not the root
 * block alone.
 */
export async function imageClusterStatus(client: ClusterClient, ipfs: IpfsBackend, input: string, o: { timeoutMs: number }): Promise<ImageClusterStatus> {
  const { cid: root } = await resolvePullRef(parsePullRef(input), ipfs, o)
  const table = await walkImage(root, ipfs, { rootSignal: AbortSignal.timeout(o.timeoutMs), signal: AbortSignal.timeout(o.timeoutMs * 10) })
  const cids = [...new Set([cidText(root), ...[...table.entries.values()].map((e) => cidText(e.cid))])]
  const statuses = await Promise.all(cids.map(async (cid) => [cid, await client.status(cid)] as const))
  const peers = new Map<string, PeerImageStatus>()
  const notPinned: string[] = []
  for (const [cid, states] of statuses) {
    if (states === undefined) {
      notPinned.push(cid)
      continue
    }
    for (const s of states) count(peers, s, cid)
  }
  return { root: cidText(root), cids, notPinned, peers: [...peers.values()].sort((a, b) => a.peername.localeCompare(b.peername)) }
}

function count(peers: Map<string, PeerImageStatus>, s: PeerPinStatus, cid: string): void {
  const p = peers.get(s.peer) ?? { peer: s.peer, peername: s.peername, states: {}, errors: {} }
  p.states[s.status] = (p.states[s.status] ?? 0) + 1
  if (s.error) p.errors[cid] = s.error
  peers.set(s.peer, p)
}
