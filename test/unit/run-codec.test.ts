// Our proto3 codec (src/containerd/protobuf.ts, which lets `ipcr run` start without protobufjs) against
// @grpc/proto-loader on every RPC of every .proto file we ship: each encodes, the other decodes, and the
// objects agree field for field, in proto-loader's shape (keepCase, longs and enums as strings, defaults).
import { readdirSync } from 'node:fs'
import { join, relative } from 'node:path'
import { loadSync, type MethodDefinition } from '@grpc/proto-loader'
import { describe, expect, it } from 'vitest'
import { rpc, protoDir } from '../../src/containerd/protos.js'
import { addToSchema, decodeMessage, encodeMessage, parseProtoFile, wellKnownProtos, type Schema } from '../../src/containerd/protobuf.js'

const serviceFiles = readdirSync(join(protoDir, 'containerd/services'), { recursive: true, encoding: 'utf8' })
  .filter((f) => f.endsWith('.proto')).map((f) => relative(protoDir, join(protoDir, 'containerd/services', f)))
const reference = loadSync(serviceFiles, { includeDirs: [protoDir], longs: String, enums: String, defaults: true, oneofs: true, keepCase: true })

const schema: Schema = { types: new Map(), services: new Map() }
const seen = new Set<string>()
function load(file: string): void {
  if (seen.has(file)) return
  seen.add(file)
  const parsed = parseProtoFile(wellKnownProtos[file] ?? require('node:fs').readFileSync(join(protoDir, file), 'utf8'), file)
  for (const dep of parsed.imports) load(dep)
  addToSchema(schema, parsed)
}
serviceFiles.forEach(load)

/** A value for every field, nested messages included (to depth 3), two items per list and map. */
function sample(type: string, depth = 0): Record<string, unknown> {
  const def = schema.types.get(type)
  if (def?.kind !== 'message') throw new Error(type)
  const out: Record<string, unknown> = {}
  for (const f of def.fields) {
    const one = (t: string, i: number): unknown => {
      switch (t) {
        case 'string': return `${f.name}-${i}`
        case 'bytes': return Buffer.from([i, 2, 3])
        case 'bool': return true
        case 'int64': return String(2 ** 40 + i)
        case 'uint64': return String(2 ** 41 + i)
        case 'int32': return -5 - i
        case 'uint32': return 7 + i
      }
      const d = schema.types.get(t)
      if (d?.kind === 'enum') return [...d.values.keys()][d.values.size - 1]
      return depth < 3 ? sample(t, depth + 1) : null
    }
    if (f.map) out[f.name] = { a: one(f.map.value, 1), b: one(f.map.value, 2) }
    else if (f.repeated) out[f.name] = depth < 3 ? [one(f.type, 1), one(f.type, 2)] : []
    else out[f.name] = one(f.type, 1)
  }
  return out
}

const cases: Array<[string, string, 'request' | 'response', string]> = []
for (const [svc, methods] of schema.services) {
  for (const [name, m] of methods) {
    cases.push([svc, name, 'request', m.requestType], [svc, name, 'response', m.responseType])
  }
}

describe('the proto3 codec behind rpc()', () => {
  it('covers every service we ship', () => {
    expect(serviceFiles.length).toBeGreaterThanOrEqual(9)
    expect(schema.services.get('containerd.services.tasks.v1.Tasks')?.has('Wait')).toBe(true)
    expect(schema.services.get('containerd.services.containers.v1.Containers')?.has('Create')).toBe(true)
  })

  it.each(cases)('%s/%s %s agrees with proto-loader both ways', (svc, method, side, type) => {
    const ref = (reference[svc] as unknown as Record<string, MethodDefinition<object, object>>)[method]!
    const refEncode = side === 'request' ? ref.requestSerialize : ref.responseSerialize
    const refDecode = side === 'request' ? ref.requestDeserialize : ref.responseDeserialize
    const value = sample(type)
    const ours = encodeMessage(schema, type, value)
    const theirs = refEncode(value)
    expect(decodeMessage(schema, type, theirs)).toEqual(refDecode(theirs))
    expect(refDecode(ours)).toEqual(refDecode(theirs))
    // An empty message decodes with every default present, as proto-loader gives it.
    expect(decodeMessage(schema, type, Buffer.alloc(0))).toEqual(refDecode(Buffer.alloc(0)))
  })

  it('serves rpc() for the new services with containerd\'s paths and field numbers', () => {
    const kill = rpc<object, object>('containerd.services.tasks.v1.Tasks', 'Kill')
    expect(kill.path).toBe('/containerd.services.tasks.v1.Tasks/Kill')
    // container_id "c" (1), signal 9 (3), all (4)
    expect(kill.serialize({ container_id: 'c', signal: 9, all: true }).toString('hex')).toBe('0a0163' + '1809' + '2001')
    const wait = rpc<object, { exit_status: number; exited_at: unknown }>('containerd.services.tasks.v1.Tasks', 'Wait')
    expect(wait.deserialize(Buffer.from('0803', 'hex'))).toEqual({ exit_status: 3, exited_at: null })
    expect(() => rpc('containerd.services.tasks.v1.Tasks', 'Exec')).toThrow(/no RPC/)
  })

  it('rejects what it does not understand instead of guessing', () => {
    expect(() => parseProtoFile('syntax = "proto3"; message M { oneof x { string a = 1; } }')).toThrow(/oneof/)
    const s: Schema = { types: new Map(), services: new Map() }
    expect(() => addToSchema(s, parseProtoFile('syntax = "proto3"; message M { Nope n = 1; }'))).toThrow(/unknown type "Nope"/)
    addToSchema(s, parseProtoFile('syntax = "proto3"; package p; enum E { A = 0; B = 1; } message M { E e = 1; }'))
    expect(() => encodeMessage(s, 'p.M', { e: 'C' })).toThrow(/"C" is not a p.E/)
  })
})
