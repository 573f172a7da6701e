import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { addToSchema, decodeMessage, encodeMessage, encodeMessageParts, parseProtoFile, wellKnownProtos, type Schema } from './protobuf.js'

/** Beside this module in src/ and in dist/ alike (scripts/copy-protos.mjs copies them). */
export const protoDir = fileURLToPath(new URL('./proto/', import.meta.url))

/** `containerd.services.tasks.v1.Tasks` is defined in containerd/services/tasks/v1/tasks.proto, and so on. */
function protoFileOf(service: string): string | undefined {
  const m = /^containerd\.services\.([a-z]+)\.v1\.[A-Za-z]+$/.exec(service)
  return m ? `containerd/services/${m[1]}/v1/${m[1]}.proto` : undefined
}

const schema: Schema = { types: new Map(), services: new Map() }
const loaded = new Set<string>()

/** Parse a .proto file (and what it imports, first) into the shared schema, once. */
function load(file: string): void {
  if (loaded.has(file)) return
  loaded.add(file)
  const text = wellKnownProtos[file] ?? readFileSync(join(protoDir, file), 'utf8')
  const parsed = parseProtoFile(text, file)
  for (const dep of parsed.imports) load(dep)
  addToSchema(schema, parsed)
}

/**
 * One service's definitions, parsed on its first use (well under a millisecond each, by protobuf.ts
 * rather than protobufjs), so that a command parses only the services it calls: start-up time is
 * what `ipcr run` is measured by.
 */
function methodsOf(service: string): ReturnType<Schema['services']['get']> {
  const file = protoFileOf(service)
  if (file !== undefined && !loaded.has(file)) {
    try { load(file) } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
    }
  }
  return schema.services.get(service)
}

/** One RPC: its HTTP/2 path and how to encode its request and decode its response. */
export interface Rpc<Req, Res> {
  readonly path: string
  readonly serialize: (req: Req) => Buffer
  /** The request as pieces, its large byte fields not copied (streamed writes). */
  readonly serializeParts: (req: Req) => Uint8Array[]
  readonly deserialize: (bytes: Buffer) => Res
}

/**
 * The RPC `service`/`method`, typed by the caller's description of its messages (wire.ts);
 * those descriptions and our .proto files are the two halves of one contract.
 */
export function rpc<Req, Res>(service: string, method: string): Rpc<Req, Res> {
  const def = methodsOf(service)?.get(method)
  if (def === undefined) throw new Error(`no RPC ${service}/${method} in ${protoDir}`)
  const { requestType, responseType } = def
  return {
    path: def.path,
    serialize: (req) => encodeMessage(schema, requestType, req as Record<string, unknown>),
    serializeParts: (req) => encodeMessageParts(schema, requestType, req as Record<string, unknown>),
    deserialize: (bytes) => decodeMessage(schema, responseType, bytes) as Res,
  }
}
