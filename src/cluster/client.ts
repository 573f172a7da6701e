import { apiUrl } from '../ipfs/multiaddr.js'
import { ClusterUnavailableError } from './errors.js'

/** One peer of the cluster as /peers lists it; `error` set when it could not be asked. */
export interface ClusterPeer {
  id: string
  peername: string
  error?: string
}

/** Where a pin stands on one peer (IPFS Cluster's tracker states: pinned, pinning, pin_queued, pin_error, remote, …). */
export interface PeerPinStatus {
  peer: string
  peername: string
  status: string
  error?: string
}

/** What the cluster was asked to keep for a CID: its name, copies and the peers it chose. */
export interface ClusterPin {
  cid: string
  name: string
  replicationMin: number
  replicationMax: number
  allocations: string[]
  metadata: Record<string, string>
}

export interface PinRequest {
  name: string
  /** Copies the cluster keeps at least (re-pinning elsewhere when a holder goes) and at most; -1: every peer. */
  replicationMin: number
  replicationMax: number
  metadata?: Record<string, string>
}

/**
 * IPFS Cluster's REST API (v1.x, default port 9094), the parts ipcr uses: peers, pin, unpin, pin
 * status and allocations. Lists come as one JSON object per line (the API streams them, with any
 * error in the X-Stream-Error trailer); errors as `{"code","message"}`.
 */
export class ClusterClient {
  readonly url: string

  constructor(address: string, private readonly timeoutMs = 60_000) {
    this.url = apiUrl(address, 'IPFS Cluster API', '/ip4/127.0.0.1/tcp/9094')
  }

  async peers(): Promise<ClusterPeer[]> {
    const lines = await this.stream('GET', '/peers')
    return lines.map((p) => {
      const peer = p as { id: string; peername?: string; error?: string }
      return { id: peer.id, peername: peer.peername ?? '', ...(peer.error ? { error: peer.error } : {}) }
    })
  }

  async pin(cid: string, req: PinRequest): Promise<void> {
    const q = new URLSearchParams({
      name: req.name, mode: 'recursive',
      'replication-min': String(req.replicationMin), 'replication-max': String(req.replicationMax),
    })
    for (const [k, v] of Object.entries(req.metadata ?? {})) q.set(`meta-${k}`, v)
    await this.json('POST', `/pins/${cid}?${q.toString()}`)
  }

  /** Unpinning what the cluster does not hold is not an error (someone unpinned it already). */
  async unpin(cid: string): Promise<void> {
    await this.json('DELETE', `/pins/${cid}`, [404])
  }

  /** The pin's state on every peer; undefined when the cluster holds no pin for it. */
  async status(cid: string): Promise<PeerPinStatus[] | undefined> {
    const info = await this.json('GET', `/pins/${cid}`, [404]) as { peer_map?: Record<string, { peername?: string; status: string; error?: string }> } | undefined
    if (info === undefined) return undefined
    const states = Object.entries(info.peer_map ?? {}).map(([peer, s]) => ({ peer, peername: s.peername ?? '', status: s.status, ...(s.error ? { error: s.error } : {}) }))
    return states.every((s) => s.status === 'unpinned') ? undefined : states
  }

  /** Every pin's state on the peer that answers (GET /pins?local=true), counted by state. */
  async localPinStates(): Promise<Record<string, number>> {
    const counts: Record<string, number> = {}
    for (const info of await this.stream('GET', '/pins?local=true') as Array<{ peer_map?: Record<string, { status: string }> }>) {
      for (const s of Object.values(info.peer_map ?? {})) counts[s.status] = (counts[s.status] ?? 0) + 1
    }
    return counts
  }

  /** What the cluster was asked to keep for `cid`, or undefined. */
  async allocation(cid: string): Promise<ClusterPin | undefined> {
    const pin = await this.json('GET', `/allocations/${cid}`, [404]) as {
      cid: string; name?: string; replication_factor_min?: number; replication_factor_max?: number; allocations?: string[] | null; metadata?: Record<string, string> | null
    } | undefined
    if (pin === undefined) return undefined
    return {
      cid: pin.cid, name: pin.name ?? '', replicationMin: pin.replication_factor_min ?? -1, replicationMax: pin.replication_factor_max ?? -1,
      allocations: pin.allocations ?? [], metadata: pin.metadata ?? {},
    }
  }

  /** One request answered with one JSON value; `absent` statuses resolve to undefined. */
  private async json(method: string, path: string, absent: number[] = []): Promise<unknown> {
    const res = await this.send(method, path)
    const text = await res.text()
    if (absent.includes(res.status)) return undefined
    if (!res.ok) throw this.failure(method, path, res.status, text)
    return text === '' ? undefined : JSON.parse(text)
  }

  /** A streamed list: one JSON value per line. */
  private async stream(method: string, path: string): Promise<unknown[]> {
    const res = await this.send(method, path)
    const text = await res.text()
    if (!res.ok) throw this.failure(method, path, res.status, text)
    const trailer = res.headers.get('x-stream-error')
    if (trailer) throw new ClusterUnavailableError(`IPFS Cluster at ${this.url}: ${method} ${path} failed midway: ${trailer}`)
    return text.split('\n').filter((l) => l.trim() !== '').map((l) => JSON.parse(l) as unknown)
  }

  private async send(method: string, path: string): Promise<Response> {
    try {
      return await fetch(`${this.url}${path}`, { method, signal: AbortSignal.timeout(this.timeoutMs) })
    } catch (err) {
      const why = err instanceof Error ? ((err.cause as Error | undefined)?.message ?? err.message) : String(err)
      throw new ClusterUnavailableError(`IPFS Cluster API at ${this.url} does not answer (${why}); check --cluster / IPCR_CLUSTER_API and that ipfs-cluster-service runs`, { cause: err })
    }
  }

  private failure(method: string, path: string, status: number, body: string): ClusterUnavailableError {
    let message = body.trim()
    try { message = (JSON.parse(body) as { message?: string }).message ?? message } catch { /* not JSON: keep the text */ }
    return new ClusterUnavailableError(`IPFS Cluster at ${this.url}: ${method} ${path.split('?')[0]} answered ${status}: ${message.slice(0, 300)}`)
  }
}
