import { fileURLToPath } from 'node:url'
import { loadSync, type MethodDefinition, type PackageDefinition } from '@grpc/proto-loader'

/** Beside this module in src/ and in dist/ alike (scripts/copy-protos.mjs copies them). */
export const protoDir = fileURLToPath(new URL('./proto/', import.meta.url))

const protoFiles = ['version', 'images', 'content', 'leases', 'introspection', 'snapshots', 'diff']
  .map((s) => `containerd/services/${s}/v1/${s}.proto`)

let loaded: PackageDefinition | undefined

/** All of our containerd services, parsed once on first use (about 50 ms). */
function packageDefinition(): PackageDefinition {
  loaded ??= loadSync(protoFiles, {
    includeDirs: [protoDir], longs: String, enums: String, defaults: true, oneofs: true, keepCase: true,
  })
  return loaded
}

/** One RPC: its HTTP/2 path and how to encode its request and decode its response. */
export interface Rpc<Req, Res> {
  readonly path: string
  readonly serialize: (req: Req) => Buffer
  readonly deserialize: (bytes: Buffer) => Res
}

/**
 * The RPC `service`/`method`, typed by the caller's description of its messages (wire.ts);
 * those descriptions and our .proto files are the two halves of one contract.
 */
export function rpc<Req, Res>(service: string, method: string): Rpc<Req, Res> {
  const svc = packageDefinition()[service]
  const def = svc !== undefined && !('format' in svc) && !('fileDescriptorProtos' in svc)
    ? (svc as unknown as Record<string, MethodDefinition<Req, Res> | undefined>)[method] : undefined
  if (def === undefined) throw new Error(`no RPC ${service}/${method} in ${protoDir}`)
  return { path: def.path, serialize: def.requestSerialize, deserialize: def.responseDeserialize }
}
