import type { Descriptor } from '../oci/descriptor.js'
import type { CallOptions, Connection } from './connection.js'
import { ContainerdError } from './errors.js'
import type { CallScope } from './metadata.js'
import { rpc } from './protos.js'
import { fromDescriptor, fromMount, toDescriptor, type Mount, type WireDescriptor, type WireMount } from './wire.js'

export interface DiffOptions extends CallOptions {
  /** Media type of the layer to make; containerd's default is gzip-compressed OCI. */
  mediaType?: string
  /** Ingest ref for the new blob. */
  ref?: string
  /** Labels for the new blob. */
  labels?: Record<string, string>
}

const svc = 'containerd.services.diff.v1.Diff'
const Apply = () => rpc<{ diff: WireDescriptor; mounts: WireMount[] }, { applied: WireDescriptor | null }>(svc, 'Apply')
const Diff = () => rpc<
  { left: WireMount[]; right: WireMount[]; media_type: string; ref: string; labels: Record<string, string> },
  { diff: WireDescriptor | null }
>(svc, 'Diff')

/** containerd's diff service (the walking applier/differ). */
export class DiffService {
  constructor(private readonly conn: Connection, private readonly scope: CallScope) {}

  /**
   * Unpack layer `layer` (already in the content store) onto `mounts` (an active snapshot's).
   * Returns the uncompressed layer's descriptor: its digest is the diffID.
   */
  async apply(layer: Descriptor, mounts: Mount[], opts?: CallOptions): Promise<Descriptor> {
    const res = await this.conn.unary(Apply(), { diff: fromDescriptor(layer), mounts: mounts.map(fromMount) }, this.scope, opts)
    if (res.applied === null) throw new ContainerdError('containerd answered Apply without a descriptor', 'INTERNAL')
    return toDescriptor(res.applied)
  }

  /** Store the difference between `left` and `right` as a layer blob and describe it. */
  async diff(left: Mount[], right: Mount[], opts: DiffOptions = {}): Promise<Descriptor> {
    const req = {
      left: left.map(fromMount), right: right.map(fromMount),
      media_type: opts.mediaType ?? '', ref: opts.ref ?? '', labels: opts.labels ?? {},
    }
    const res = await this.conn.unary(Diff(), req, this.scope, opts)
    if (res.diff === null) throw new ContainerdError('containerd answered Diff without a descriptor', 'INTERNAL')
    return toDescriptor(res.diff)
  }
}
