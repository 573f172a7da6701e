import type { Connection, CallOptions } from './connection.js'
import type { CallScope } from './metadata.js'
import { rpc } from './protos.js'
import type { Empty } from './wire.js'

export interface ServerVersion { version: string; revision: string }

const Version = () => rpc<Empty, ServerVersion>('containerd.services.version.v1.Version', 'Version')

export async function version(conn: Connection, scope: CallScope, opts?: CallOptions): Promise<ServerVersion> {
  const res = await conn.unary(Version(), {}, scope, opts)
  return { version: res.version, revision: res.revision }
}
