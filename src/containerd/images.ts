import type { Descriptor } from '../oci/descriptor.js'
import type { Connection, CallOptions } from './connection.js'
import type { CallScope } from './metadata.js'
import { AlreadyExistsError, ContainerdError } from './errors.js'
import { rpc } from './protos.js'
import { fromDescriptor, toDate, toDescriptor, type Empty, type WireDescriptor, type WireTimestamp } from './wire.js'

/** An image record: a name pointing at a root descriptor (index or manifest). */
export interface ImageRecord {
  name: string
  target: Descriptor
  labels: Record<string, string>
  createdAt?: Date | undefined
  updatedAt?: Date | undefined
}

export type NewImageRecord = Pick<ImageRecord, 'name' | 'target'> & { labels?: Record<string, string> }

interface WireImage {
  name: string
  labels: Record<string, string>
  target: WireDescriptor | null
  created_at?: WireTimestamp | null
  updated_at?: WireTimestamp | null
}
interface ImageAnswer { image: WireImage | null }

const svc = 'containerd.services.images.v1.Images'
const Get = () => rpc<{ name: string }, ImageAnswer>(svc, 'Get')
const List = () => rpc<{ filters: string[] }, { images: WireImage[] }>(svc, 'List')
const Create = () => rpc<{ image: WireImage }, ImageAnswer>(svc, 'Create')
const Update = () => rpc<{ image: WireImage; update_mask?: { paths: string[] } }, ImageAnswer>(svc, 'Update')
const Delete = () => rpc<{ name: string; sync: boolean }, Empty>(svc, 'Delete')

/** containerd's image store, in one namespace (and lease, for writes). */
export class ImagesService {
  constructor(private readonly conn: Connection, private readonly scope: CallScope) {}

  /** NotFoundError when no image has exactly this name. */
  async get(name: string, opts?: CallOptions): Promise<ImageRecord> {
    return fromWire((await this.conn.unary(Get(), { name }, this.scope, opts)).image)
  }

  /** Filters in containerd's syntax, e.g. `name==docker.io/library/alpine:3`; any one may match. */
  async list(filters: string[] = [], opts?: CallOptions): Promise<ImageRecord[]> {
    return (await this.conn.unary(List(), { filters }, this.scope, opts)).images.map(fromWire)
  }

  /** AlreadyExistsError when the name is taken. */
  async create(image: NewImageRecord, opts?: CallOptions): Promise<ImageRecord> {
    return fromWire((await this.conn.unary(Create(), { image: toWire(image) }, this.scope, opts)).image)
  }

  /**
   * Replace the fields named in `fields` ("target", "labels", "labels.KEY"); all mutable fields when empty.
   * NotFoundError when there is no such image.
   */
  async update(image: NewImageRecord, fields: string[] = [], opts?: CallOptions): Promise<ImageRecord> {
    const req = { image: toWire(image), ...(fields.length > 0 ? { update_mask: { paths: fields } } : {}) }
    return fromWire((await this.conn.unary(Update(), req, this.scope, opts)).image)
  }

  /** Point `name` at `target`: create the record, or move an existing one's target (as ctr import does). */
  async put(name: string, target: Descriptor, opts?: CallOptions): Promise<ImageRecord> {
    // containerd's image records keep only these fields of a descriptor.
    const t: Descriptor = { mediaType: target.mediaType, digest: target.digest, size: target.size, ...(target.annotations ? { annotations: target.annotations } : {}) }
    try {
      return await this.create({ name, target: t }, opts)
    } catch (err) {
      if (!(err instanceof AlreadyExistsError)) throw err
      return this.update({ name, target: t }, ['target'], opts)
    }
  }

  /** `sync` waits for garbage collection of what the image alone held. */
  async delete(name: string, options: { sync?: boolean } = {}, opts?: CallOptions): Promise<void> {
    await this.conn.unary(Delete(), { name, sync: options.sync ?? false }, this.scope, opts)
  }
}

function toWire(image: NewImageRecord): WireImage {
  return { name: image.name, labels: image.labels ?? {}, target: fromDescriptor(image.target) }
}

function fromWire(image: WireImage | null): ImageRecord {
  if (image === null || image.target === null) throw new ContainerdError('containerd answered without an image', 'INTERNAL')
  return {
    name: image.name, target: toDescriptor(image.target), labels: { ...image.labels },
    createdAt: toDate(image.created_at), updatedAt: toDate(image.updated_at),
  }
}
