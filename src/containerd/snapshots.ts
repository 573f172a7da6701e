import type { CallOptions, Connection } from './connection.js'
import type { CallScope } from './metadata.js'
import { ContainerdError } from './errors.js'
import { rpc } from './protos.js'
import { toDate, toMount, toNumber, type Empty, type Int64, type Mount, type WireMount, type WireTimestamp } from './wire.js'

export type SnapshotKind = 'UNKNOWN' | 'VIEW' | 'ACTIVE' | 'COMMITTED'

export interface SnapshotInfo {
  name: string
  /** The committed snapshot below this one; "" for a base layer. */
  parent: string
  kind: SnapshotKind
  labels: Record<string, string>
  createdAt?: Date | undefined
  updatedAt?: Date | undefined
}

export interface SnapshotOptions extends CallOptions {
  /** e.g. `containerd.io/snapshot.ref` and the stargz remote-snapshot labels (wire-format.md §5). */
  labels?: Record<string, string>
}

interface WireInfo {
  name: string
  parent: string
  kind: SnapshotKind
  created_at: WireTimestamp | null
  updated_at: WireTimestamp | null
  labels: Record<string, string>
}
interface KeyRequest { snapshotter: string; key: string }
interface ParentRequest extends KeyRequest { parent: string; labels: Record<string, string> }
interface MountsAnswer { mounts: WireMount[] }

const svc = 'containerd.services.snapshots.v1.Snapshots'
const Prepare = () => rpc<ParentRequest, MountsAnswer>(svc, 'Prepare')
const View = () => rpc<ParentRequest, MountsAnswer>(svc, 'View')
const Mounts = () => rpc<KeyRequest, MountsAnswer>(svc, 'Mounts')
const Commit = () => rpc<KeyRequest & { name: string; labels: Record<string, string>; parent?: string }, Empty>(svc, 'Commit')
const Remove = () => rpc<KeyRequest, Empty>(svc, 'Remove')
const Stat = () => rpc<KeyRequest, { info: WireInfo | null }>(svc, 'Stat')
const List = () => rpc<{ snapshotter: string; filters: string[] }, { info: WireInfo[] }>(svc, 'List')
const Usage = () => rpc<KeyRequest, { size: Int64; inodes: Int64 }>(svc, 'Usage')

/** One snapshotter ("overlayfs", "stargz") in one namespace; new snapshots land in the scope's lease. */
export class SnapshotsService {
  constructor(private readonly conn: Connection, private readonly scope: CallScope, readonly snapshotter: string) {}

  /**
   * An active snapshot `key` on top of committed `parent` ("" for none). With the stargz snapshotter,
   * AlreadyExistsError means it mounted the layer remotely and committed it under the snapshot.ref label.
   */
  async prepare(key: string, parent = '', opts: SnapshotOptions = {}): Promise<Mount[]> {
    const req = { snapshotter: this.snapshotter, key, parent, labels: opts.labels ?? {} }
    return (await this.conn.unary(Prepare(), req, this.scope, opts)).mounts.map(toMount)
  }

  /** A read-only view of committed `parent`. */
  async view(key: string, parent = '', opts: SnapshotOptions = {}): Promise<Mount[]> {
    const req = { snapshotter: this.snapshotter, key, parent, labels: opts.labels ?? {} }
    return (await this.conn.unary(View(), req, this.scope, opts)).mounts.map(toMount)
  }

  async mounts(key: string, opts?: CallOptions): Promise<Mount[]> {
    return (await this.conn.unary(Mounts(), { snapshotter: this.snapshotter, key }, this.scope, opts)).mounts.map(toMount)
  }

  /**
   * Turn active snapshot `key` into committed snapshot `name` (a chainID when unpacking). `parent`
   * rebases it onto that committed snapshot: only for snapshotters with the "rebase" capability
   * (containerd 2.2+), since older ones ignore it and keep the parent given to Prepare.
   */
  async commit(name: string, key: string, opts: SnapshotOptions & { parent?: string } = {}): Promise<void> {
    const req = { snapshotter: this.snapshotter, name, key, labels: opts.labels ?? {}, ...(opts.parent ? { parent: opts.parent } : {}) }
    await this.conn.unary(Commit(), req, this.scope, opts)
  }

  async remove(key: string, opts?: CallOptions): Promise<void> {
    await this.conn.unary(Remove(), { snapshotter: this.snapshotter, key }, this.scope, opts)
  }

  /** NotFoundError when there is no such snapshot. */
  async stat(key: string, opts?: CallOptions): Promise<SnapshotInfo> {
    const { info } = await this.conn.unary(Stat(), { snapshotter: this.snapshotter, key }, this.scope, opts)
    if (info === null) throw new ContainerdError(`containerd answered without snapshot info for ${key}`, 'INTERNAL')
    return fromWire(info)
  }

  /** Filters e.g. `parent==sha256:...`, `labels."containerd.io/snapshot.ref"`. */
  async list(filters: string[] = [], opts?: CallOptions): Promise<SnapshotInfo[]> {
    const out: SnapshotInfo[] = []
    for await (const batch of this.conn.serverStream(List(), { snapshotter: this.snapshotter, filters }, this.scope, opts)) {
      out.push(...batch.info.map(fromWire))
    }
    return out
  }

  async usage(key: string, opts?: CallOptions): Promise<{ size: number; inodes: number }> {
    const res = await this.conn.unary(Usage(), { snapshotter: this.snapshotter, key }, this.scope, opts)
    return { size: toNumber(res.size), inodes: toNumber(res.inodes) }
  }
}

function fromWire(i: WireInfo): SnapshotInfo {
  return {
    name: i.name, parent: i.parent, kind: i.kind, labels: { ...i.labels },
    createdAt: toDate(i.created_at), updatedAt: toDate(i.updated_at),
  }
}
