import type { CallOptions, Connection } from './connection.js'
import { ContainerdError } from './errors.js'
import type { CallScope } from './metadata.js'
import { rpc } from './protos.js'
import { toDate, type Empty, type WireTimestamp } from './wire.js'

/** google.protobuf.Any: a type URL and the bytes it names. */
export interface WireAny { type_url: string; value: Uint8Array }

/** The type URL containerd's client registers for an OCI runtime spec, carried as JSON. */
export const specTypeUrl = 'types.containerd.io/opencontainers/runtime-spec/1/Spec'

/** containerd's label for the signal that stops a container (ctr task kill's default); from the image config. */
export const stopSignalLabel = 'io.containerd.image.config.stop-signal'

/** A container record: what a task needs to run (spec, runtime, rootfs snapshot), not a running process. */
export interface ContainerRecord {
  id: string
  labels: Record<string, string>
  /** The image name it was made from; informational. */
  image: string
  runtime: { name: string; options?: WireAny | undefined }
  /** The OCI runtime spec (JSON). */
  spec?: unknown
  /** With snapshotKey: the container's rootfs snapshot, kept from garbage collection by this record. */
  snapshotter: string
  snapshotKey: string
  createdAt?: Date | undefined
  updatedAt?: Date | undefined
}

export type NewContainerRecord = Pick<ContainerRecord, 'id' | 'runtime'> & Partial<Pick<ContainerRecord, 'labels' | 'image' | 'spec' | 'snapshotter' | 'snapshotKey'>>

interface WireContainer {
  id: string
  labels: Record<string, string>
  image: string
  runtime: { name: string; options: WireAny | null } | null
  spec: WireAny | null
  snapshotter: string
  snapshot_key: string
  created_at?: WireTimestamp | null
  updated_at?: WireTimestamp | null
}
interface ContainerAnswer { container: WireContainer | null }

const svc = 'containerd.services.containers.v1.Containers'
const Get = () => rpc<{ id: string }, ContainerAnswer>(svc, 'Get')
const List = () => rpc<{ filters: string[] }, { containers: WireContainer[] }>(svc, 'List')
const Create = () => rpc<{ container: WireContainer }, ContainerAnswer>(svc, 'Create')
const Update = () => rpc<{ container: WireContainer; update_mask?: { paths: string[] } }, ContainerAnswer>(svc, 'Update')
const Delete = () => rpc<{ id: string }, Empty>(svc, 'Delete')

/** containerd's container store in one namespace. */
export class ContainersService {
  constructor(private readonly conn: Connection, private readonly scope: CallScope) {}

  /** NotFoundError when there is no container with this id. */
  async get(id: string, opts?: CallOptions): Promise<ContainerRecord> {
    return fromWire((await this.conn.unary(Get(), { id }, this.scope, opts)).container)
  }

  /** Filters in containerd's syntax, e.g. `labels."app"==x` or `image==name`; any one may match. */
  async list(filters: string[] = [], opts?: CallOptions): Promise<ContainerRecord[]> {
    return (await this.conn.unary(List(), { filters }, this.scope, opts)).containers.map((c) => fromWire(c))
  }

  /** AlreadyExistsError when the id is taken. */
  async create(container: NewContainerRecord, opts?: CallOptions): Promise<ContainerRecord> {
    return fromWire((await this.conn.unary(Create(), { container: toWire(container) }, this.scope, opts)).container)
  }

  /** Replace the fields named (e.g. "labels", "spec", "labels.KEY"); all mutable fields when empty. */
  async update(container: NewContainerRecord, fields: string[] = [], opts?: CallOptions): Promise<ContainerRecord> {
    const req = { container: toWire(container), ...(fields.length > 0 ? { update_mask: { paths: fields } } : {}) }
    return fromWire((await this.conn.unary(Update(), req, this.scope, opts)).container)
  }

  /** Deletes the record only: its task must be gone, and its snapshot is the caller's to remove. */
  async delete(id: string, opts?: CallOptions): Promise<void> {
    await this.conn.unary(Delete(), { id }, this.scope, opts)
  }
}

export function toWire(c: NewContainerRecord): WireContainer {
  return {
    id: c.id, labels: c.labels ?? {}, image: c.image ?? '',
    runtime: { name: c.runtime.name, options: c.runtime.options ?? null },
    spec: c.spec === undefined ? null : { type_url: specTypeUrl, value: Buffer.from(JSON.stringify(c.spec)) },
    snapshotter: c.snapshotter ?? '', snapshot_key: c.snapshotKey ?? '',
  }
}

export function fromWire(c: WireContainer | null): ContainerRecord {
  if (c === null) throw new ContainerdError('containerd answered without a container', 'INTERNAL')
  const out: ContainerRecord = {
    id: c.id, labels: { ...c.labels }, image: c.image,
    runtime: { name: c.runtime?.name ?? '', ...(c.runtime?.options ? { options: c.runtime.options } : {}) },
    snapshotter: c.snapshotter, snapshotKey: c.snapshot_key,
    createdAt: toDate(c.created_at), updatedAt: toDate(c.updated_at),
  }
  if (c.spec !== null && c.spec.value.byteLength > 0) {
    try { out.spec = JSON.parse(Buffer.from(c.spec.value).toString('utf8')) } catch { /* not JSON: leave it out */ }
  }
  return out
}
