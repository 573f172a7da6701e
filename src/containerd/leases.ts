import type { Connection, CallOptions } from './connection.js'
import type { CallScope } from './metadata.js'
import { rpc } from './protos.js'
import { ContainerdError } from './errors.js'
import { toDate, type Empty, type WireTimestamp } from './wire.js'

export interface Lease { id: string; labels: Record<string, string>; createdAt?: Date | undefined }

/** Something a lease holds: `type` is "content", "ingests", "snapshots/<snapshotter>" or "images"... */
export interface LeaseResource { id: string; type: string }

interface WireLease { id: string; labels: Record<string, string>; created_at: WireTimestamp | null }

const svc = 'containerd.services.leases.v1.Leases'
const Create = () => rpc<{ id: string; labels: Record<string, string> }, { lease: WireLease | null }>(svc, 'Create')
const Delete = () => rpc<{ id: string; sync: boolean }, Empty>(svc, 'Delete')
const List = () => rpc<{ filters: string[] }, { leases: WireLease[] }>(svc, 'List')
const AddResource = () => rpc<{ id: string; resource: LeaseResource }, Empty>(svc, 'AddResource')
const DeleteResource = () => rpc<{ id: string; resource: LeaseResource }, Empty>(svc, 'DeleteResource')
const ListResources = () => rpc<{ id: string }, { resources: LeaseResource[] }>(svc, 'ListResources')

/** containerd's lease manager for one namespace. Most callers want ContainerdClient.withLease instead. */
export class LeasesService {
  constructor(private readonly conn: Connection, private readonly scope: CallScope) {}

  /** AlreadyExistsError when a lease has this id. */
  async create(lease: { id: string; labels?: Record<string, string> }, opts?: CallOptions): Promise<Lease> {
    const res = await this.conn.unary(Create(), { id: lease.id, labels: lease.labels ?? {} }, this.scope, opts)
    if (res.lease === null) throw new ContainerdError('containerd answered without a lease', 'INTERNAL')
    return fromWire(res.lease)
  }

  /** NotFoundError when there is no such lease; `sync` waits for the garbage collection it frees. */
  async delete(id: string, options: { sync?: boolean } = {}, opts?: CallOptions): Promise<void> {
    await this.conn.unary(Delete(), { id, sync: options.sync ?? false }, this.scope, opts)
  }

  /** Filters in containerd's syntax, e.g. `id==x` or `labels."ipcr.io/ref"==y`. */
  async list(filters: string[] = [], opts?: CallOptions): Promise<Lease[]> {
    return (await this.conn.unary(List(), { filters }, this.scope, opts)).leases.map(fromWire)
  }

  async addResource(id: string, resource: LeaseResource, opts?: CallOptions): Promise<void> {
    await this.conn.unary(AddResource(), { id, resource }, this.scope, opts)
  }

  async deleteResource(id: string, resource: LeaseResource, opts?: CallOptions): Promise<void> {
    await this.conn.unary(DeleteResource(), { id, resource }, this.scope, opts)
  }

  async listResources(id: string, opts?: CallOptions): Promise<LeaseResource[]> {
    const res = await this.conn.unary(ListResources(), { id }, this.scope, opts)
    return res.resources.map((r) => ({ id: r.id, type: r.type }))
  }
}

function fromWire(l: WireLease): Lease {
  return { id: l.id, labels: { ...l.labels }, createdAt: toDate(l.created_at) }
}
