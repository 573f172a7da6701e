import type { Platform } from '../oci/platform.js'
import type { CallOptions, Connection } from './connection.js'
import type { CallScope } from './metadata.js'
import { rpc } from './protos.js'
import type { Empty } from './wire.js'

export interface Plugin {
  /** e.g. "io.containerd.snapshotter.v1" */
  type: string
  /** e.g. "overlayfs", "stargz" */
  id: string
  requires: string[]
  platforms: Platform[]
  exports: Record<string, string>
  capabilities: string[]
  /** Why the plugin failed to load; absent for a working plugin. */
  initError?: { code: number; message: string } | undefined
}

/** What a command needs to know before relying on a snapshotter. */
export interface SnapshotterState {
  present: boolean
  ok: boolean
  error?: string | undefined
  /** e.g. "rebase" (containerd 2.2+ overlayfs: layers can be unpacked in parallel), "remap-ids". */
  capabilities: string[]
}

/** A snapshotter that can commit a snapshot onto a parent it was not prepared on (containerd 2.2+). */
export const RebaseCapability = 'rebase'

export const snapshotterPluginType = 'io.containerd.snapshotter.v1'

interface WirePlugin {
  type: string
  id: string
  requires: string[]
  platforms: { os: string; architecture: string; variant: string }[]
  exports: Record<string, string>
  capabilities: string[]
  init_err: { code: number; message: string } | null
}

const svc = 'containerd.services.introspection.v1.Introspection'
const Plugins = () => rpc<{ filters: string[] }, { plugins: WirePlugin[] }>(svc, 'Plugins')
const Server = () => rpc<Empty, { uuid: string }>(svc, 'Server')

export class IntrospectionService {
  constructor(private readonly conn: Connection, private readonly scope: CallScope) {}

  /** Filters e.g. `type==io.containerd.snapshotter.v1`; any one may match. */
  async plugins(filters: string[] = [], opts?: CallOptions): Promise<Plugin[]> {
    return (await this.conn.unary(Plugins(), { filters }, this.scope, opts)).plugins.map(fromWire)
  }

  async server(opts?: CallOptions): Promise<{ uuid: string }> {
    return { uuid: (await this.conn.unary(Server(), {}, this.scope, opts)).uuid }
  }

  /** Is snapshotter `id` (e.g. "stargz", a proxy plugin) registered, and did it load? */
  async snapshotter(id: string, opts?: CallOptions): Promise<SnapshotterState> {
    const [plugin] = await this.plugins([`type==${snapshotterPluginType},id==${id}`], opts)
    if (plugin === undefined) return { present: false, ok: false, capabilities: [] }
    const { capabilities } = plugin
    return plugin.initError === undefined ? { present: true, ok: true, capabilities } : { present: true, ok: false, error: plugin.initError.message, capabilities }
  }
}

function fromWire(p: WirePlugin): Plugin {
  return {
    type: p.type, id: p.id, requires: [...p.requires], exports: { ...p.exports }, capabilities: [...p.capabilities],
    platforms: p.platforms.map((x) => ({ os: x.os, architecture: x.architecture, ...(x.variant ? { variant: x.variant } : {}) })),
    initError: p.init_err === null ? undefined : { code: p.init_err.code, message: p.init_err.message },
  }
}
