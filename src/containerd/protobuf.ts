/**
 * A small proto3 reader and codec for our containerd .proto files, in place of protobufjs at run time:
 * parsing and code generation there cost more than a whole `ipcr run` spends talking to containerd.
 * Messages are plain objects in @grpc/proto-loader's shape with keepCase, longs as strings, enums as
 * names and defaults on: every scalar, list and map present when decoding, unset message fields null,
 * int64 as decimal strings, bytes as Buffers. Encoding leaves out nulls, empty lists and proto3 defaults.
 * It knows what our files use: scalars, enums, nested messages, repeated fields and maps, services
 * with streams, and the well-known types Empty, Timestamp, Any and FieldMask.
 */

export interface FieldDef {
  name: string
  number: number
  /** A scalar type name, or a message or enum's full name once resolved. */
  type: string
  repeated: boolean
  map?: { key: string; value: string }
}

export interface MessageDef { kind: 'message'; name: string; fields: FieldDef[]; byNumber: Map<number, FieldDef> }
export interface EnumDef { kind: 'enum'; name: string; values: Map<string, number>; names: Map<number, string> }
export interface MethodDef { path: string; requestType: string; responseType: string; requestStream: boolean; responseStream: boolean }

/** Definitions by full name (`containerd.types.Mount`); services map method names to their definitions. */
export interface Schema {
  types: Map<string, MessageDef | EnumDef>
  services: Map<string, Map<string, MethodDef>>
}

const scalarTypes = new Set(['double', 'float', 'int32', 'int64', 'uint32', 'uint64', 'sint32', 'sint64', 'fixed32', 'fixed64', 'sfixed32', 'sfixed64', 'bool', 'string', 'bytes'])

/** What a file declares before type names are resolved, plus the files it imports. */
interface ParsedFile {
  imports: string[]
  types: Array<{ def: MessageDef | EnumDef; scope: string }>
  services: Array<{ name: string; methods: MethodDef[]; scope: string }>
}

function tokenize(text: string): string[] {
  const stripped = text.replace(/\/\*[\s\S]*?\*\//g, ' ').replace(/\/\/[^\n]*/g, ' ')
  return stripped.match(/"(?:[^"\\]|\\.)*"|[A-Za-z_.][A-Za-z0-9_.]*|\d+|[{}()<>=;,[\]]/g) ?? []
}

/** Parse one .proto file of the subset described above. */
export function parseProtoFile(text: string, file = 'proto'): ParsedFile {
  const t = tokenize(text)
  let i = 0
  const out: ParsedFile = { imports: [], types: [], services: [] }
  let pkg = ''
  const fail = (what: string): never => { throw new Error(`${file}: ${what} near "${t.slice(Math.max(0, i - 3), i + 3).join(' ')}"`) }
  const next = (): string => t[i++] ?? fail('unexpected end')
  const expect = (tok: string): void => { if (next() !== tok) fail(`expected "${tok}"`) }
  const skipStatement = (): void => {
    let depth = 0
    for (;;) {
      const tok = next()
      if (tok === '{') depth++
      else if (tok === '}') { if (--depth <= 0) return } else if (tok === ';' && depth === 0) return
    }
  }
  const skipOptions = (): void => {
    if (t[i] !== '[') return
    while (next() !== ']') { /* field options */ }
  }

  function parseEnum(scope: string): void {
    const name = next()
    const def: EnumDef = { kind: 'enum', name: `${scope}.${name}`.replace(/^\./, ''), values: new Map(), names: new Map() }
    expect('{')
    while (t[i] !== '}') {
      if (t[i] === 'option' || t[i] === 'reserved') { skipStatement(); continue }
      const value = next()
      expect('=')
      const n = Number(next())
      skipOptions()
      expect(';')
      def.values.set(value, n)
      if (!def.names.has(n)) def.names.set(n, value)
    }
    expect('}')
    out.types.push({ def, scope })
  }

  function parseMessage(scope: string): void {
    const name = next()
    const full = `${scope}.${name}`.replace(/^\./, '')
    const def: MessageDef = { kind: 'message', name: full, fields: [], byNumber: new Map() }
    expect('{')
    while (t[i] !== '}') {
      const tok = next()
      if (tok === 'message') { parseMessage(full); continue }
      if (tok === 'enum') { parseEnum(full); continue }
      if (tok === 'option' || tok === 'reserved' || tok === 'extensions') { i--; skipStatement(); continue }
      if (tok === 'oneof') fail('oneof is not supported')
      let field: FieldDef
      if (tok === 'map') {
        expect('<')
        const key = next()
        expect(',')
        const value = next()
        expect('>')
        field = { name: next(), number: 0, type: 'map', repeated: false, map: { key, value } }
      } else {
        const repeated = tok === 'repeated'
        const type = repeated || tok === 'optional' ? next() : tok
        field = { name: next(), number: 0, type, repeated }
      }
      expect('=')
      field.number = Number(next())
      skipOptions()
      expect(';')
      def.fields.push(field)
      def.byNumber.set(field.number, field)
    }
    expect('}')
    out.types.push({ def, scope: full })
  }

  function parseService(): void {
    const name = next()
    const methods: MethodDef[] = []
    expect('{')
    while (t[i] !== '}') {
      const tok = next()
      if (tok === 'option') { i--; skipStatement(); continue }
      if (tok !== 'rpc') fail('expected rpc')
      const method = next()
      expect('(')
      const requestStream = t[i] === 'stream' && t[i + 1] !== ')' ? (i++, true) : false
      const requestType = next()
      expect(')')
      expect('returns')
      expect('(')
      const responseStream = t[i] === 'stream' && t[i + 1] !== ')' ? (i++, true) : false
      const responseType = next()
      expect(')')
      if (t[i] === '{') { i++; while (next() !== '}') { /* method options */ } } else expect(';')
      methods.push({ path: `/${pkg ? `${pkg}.` : ''}${name}/${method}`, requestType, responseType, requestStream, responseStream })
    }
    expect('}')
    out.services.push({ name: `${pkg ? `${pkg}.` : ''}${name}`, methods, scope: pkg })
  }

  while (i < t.length) {
    const tok = next()
    switch (tok) {
      case 'syntax': skipStatement(); break
      case 'package': pkg = next(); expect(';'); break
      case 'import': {
        let path = next()
        if (path === 'public' || path === 'weak') path = next()
        out.imports.push(JSON.parse(path) as string)
        expect(';')
        break
      }
      case 'option': i--; skipStatement(); break
      case 'message': parseMessage(pkg); break
      case 'enum': parseEnum(pkg); break
      case 'service': parseService(); break
      case ';': break
      default: fail(`unexpected "${tok}"`)
    }
  }
  return out
}

/** The well-known types our files import, as protobuf defines them. */
export const wellKnownProtos: Readonly<Record<string, string>> = {
  'google/protobuf/empty.proto': 'syntax = "proto3"; package google.protobuf; message Empty {}',
  'google/protobuf/timestamp.proto': 'syntax = "proto3"; package google.protobuf; message Timestamp { int64 seconds = 1; int32 nanos = 2; }',
  'google/protobuf/any.proto': 'syntax = "proto3"; package google.protobuf; message Any { string type_url = 1; bytes value = 2; }',
  'google/protobuf/field_mask.proto': 'syntax = "proto3"; package google.protobuf; message FieldMask { repeated string paths = 1; }',
}

/** Add a parsed file to `schema`, resolving its type names (the files it imports must be added first). */
export function addToSchema(schema: Schema, file: ParsedFile): void {
  for (const { def } of file.types) schema.types.set(def.name, def)
  const resolve = (name: string, scope: string): string => {
    if (scalarTypes.has(name)) return name
    if (name.startsWith('.')) return name.slice(1)
    // Innermost scope first, as protoc resolves relative names.
    for (let s = scope; ; s = s.includes('.') ? s.slice(0, s.lastIndexOf('.')) : '') {
      const candidate = s ? `${s}.${name}` : name
      if (schema.types.has(candidate)) return candidate
      if (s === '') break
    }
    throw new Error(`unknown type "${name}" in ${scope || 'the root scope'}`)
  }
  for (const { def, scope } of file.types) {
    if (def.kind !== 'message') continue
    for (const f of def.fields) {
      if (f.map) f.map = { key: f.map.key, value: resolve(f.map.value, scope) }
      else f.type = resolve(f.type, scope)
    }
  }
  for (const svc of file.services) {
    const methods = new Map<string, MethodDef>()
    for (const m of svc.methods) {
      methods.set(m.path.slice(m.path.lastIndexOf('/') + 1), { ...m, requestType: resolve(m.requestType, svc.scope), responseType: resolve(m.responseType, svc.scope) })
    }
    schema.services.set(svc.name, methods)
  }
}

// ---- encoding -------------------------------------------------------------------------------

/** Byte fields at least this long are kept by reference: joined once in finish(), or never, by parts(). */
const referencedBytes = 4096

/**
 * A `bytes` field's value may be given as several pieces, sent as one field without joining them
 * (a 1 MiB Content.Write chunk made of the 64 KiB pieces a blob arrived in).
 */
export type ByteParts = readonly Uint8Array[]

const byteLength = (b: Uint8Array | ByteParts): number => (b instanceof Uint8Array ? b.byteLength : b.reduce((n, p) => n + p.byteLength, 0))

class Writer {
  private chunks: Uint8Array[] = []
  private buf = Buffer.allocUnsafe(256)
  private pos = 0
  private ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return
    this.flush()
    this.buf = Buffer.allocUnsafe(Math.max(256, n))
  }
  private flush(): void {
    if (this.pos > 0) this.chunks.push(this.buf.subarray(0, this.pos))
    this.buf = this.buf.subarray(this.pos)
    this.pos = 0
  }
  varint(v: bigint | number): void {
    let n = BigInt.asUintN(64, BigInt(v))
    this.ensure(10)
    while (n > 0x7fn) { this.buf[this.pos++] = Number(n & 0x7fn) | 0x80; n >>= 7n }
    this.buf[this.pos++] = Number(n)
  }
  /** A small non-negative number (tags, lengths) without BigInt. */
  uvarint(v: number): void {
    this.ensure(5)
    while (v > 0x7f) { this.buf[this.pos++] = (v & 0x7f) | 0x80; v >>>= 7 }
    this.buf[this.pos++] = v
  }
  bytes(b: Uint8Array | ByteParts): void {
    const length = byteLength(b)
    this.uvarint(length)
    const parts = b instanceof Uint8Array ? [b] : b
    if (length >= referencedBytes) {
      this.flush()
      this.chunks.push(...parts)
      return
    }
    this.ensure(length)
    for (const part of parts) {
      this.buf.set(part, this.pos)
      this.pos += part.byteLength
    }
  }
  fixed(v: bigint | number, size: 4 | 8, kind: 'int' | 'float'): void {
    this.ensure(size)
    if (kind === 'float') { if (size === 4) this.buf.writeFloatLE(Number(v), this.pos); else this.buf.writeDoubleLE(Number(v), this.pos) } else if (size === 4) this.buf.writeUInt32LE(Number(BigInt.asUintN(32, BigInt(v))), this.pos)
    else this.buf.writeBigUInt64LE(BigInt.asUintN(64, BigInt(v)), this.pos)
    this.pos += size
  }
  finish(): Buffer {
    const [only, ...more] = this.parts()
    return only !== undefined && more.length === 0 ? Buffer.from(only.buffer, only.byteOffset, only.byteLength) : Buffer.concat(this.chunks)
  }
  /** The encoding as the pieces it was written in, large byte fields by reference. */
  parts(): Uint8Array[] {
    this.flush()
    return this.chunks
  }
}

function wireType(type: string, schema: Schema): number {
  switch (type) {
    case 'double': case 'fixed64': case 'sfixed64': return 1
    case 'float': case 'fixed32': case 'sfixed32': return 5
    case 'string': case 'bytes': return 2
    default: return scalarTypes.has(type) || schema.types.get(type)?.kind === 'enum' ? 0 : 2
  }
}

function isDefault(type: string, v: unknown, schema: Schema): boolean {
  if (type === 'string') return v === ''
  if (type === 'bool') return v === false
  if (type === 'bytes') return typeof v === 'string' ? v === '' : byteLength(v as Uint8Array | ByteParts) === 0
  if (scalarTypes.has(type)) return v === 0 || v === '0' || v === 0n
  const def = schema.types.get(type)
  if (def?.kind === 'enum') return (typeof v === 'string' ? def.values.get(v) : v) === 0
  return false
}

/** `path` names the field in error messages; a function, so that no name is built unless one is needed. */
function writeValue(w: Writer, type: string, v: unknown, schema: Schema, path: () => string): void {
  switch (type) {
    case 'string': w.bytes(Buffer.from(String(v), 'utf8')); return
    case 'bytes': w.bytes(typeof v === 'string' ? Buffer.from(v, 'base64') : (v as Uint8Array | ByteParts)); return
    case 'bool': w.uvarint(v ? 1 : 0); return
    case 'int32': case 'int64': case 'uint32': case 'uint64': w.varint(BigInt(v as string | number)); return
    case 'sint32': case 'sint64': { const n = BigInt(v as string | number); w.varint(n >= 0n ? n << 1n : (-n << 1n) - 1n); return }
    case 'fixed32': case 'sfixed32': w.fixed(v as number, 4, 'int'); return
    case 'fixed64': case 'sfixed64': w.fixed(BigInt(v as string | number), 8, 'int'); return
    case 'float': w.fixed(v as number, 4, 'float'); return
    case 'double': w.fixed(v as number, 8, 'float'); return
  }
  const def = schema.types.get(type)
  if (def?.kind === 'enum') {
    const n = typeof v === 'string' ? def.values.get(v) : (v as number)
    if (n === undefined) throw new Error(`${path()}: "${String(v)}" is not a ${def.name}`)
    w.varint(n)
    return
  }
  w.bytes(encodeMessage(schema, type, v as Record<string, unknown>, path))
}

/** Encode `value` as message `type` (a full name). */
export function encodeMessage(schema: Schema, type: string, value: Record<string, unknown>, path = (): string => type): Buffer {
  return encodeInto(new Writer(), schema, type, value, path).finish()
}

/** The same encoding, as pieces to be written one after another: large byte fields are not copied. */
export function encodeMessageParts(schema: Schema, type: string, value: Record<string, unknown>): Uint8Array[] {
  return encodeInto(new Writer(), schema, type, value, () => type).parts()
}

function encodeInto(w: Writer, schema: Schema, type: string, value: Record<string, unknown>, path: () => string): Writer {
  const def = schema.types.get(type)
  if (def?.kind !== 'message') throw new Error(`no message type ${type}`)
  for (const f of def.fields) {
    const v = value[f.name]
    if (v === undefined || v === null) continue
    const where = (): string => `${path()}.${f.name}`
    if (f.map) {
      for (const [k, item] of Object.entries(v as Record<string, unknown>)) {
        if (item === undefined || item === null) continue
        const entry = new Writer()
        entry.uvarint((1 << 3) | wireType(f.map.key, schema))
        writeValue(entry, f.map.key, f.map.key === 'bool' ? k === 'true' : k, schema, where)
        entry.uvarint((2 << 3) | wireType(f.map.value, schema))
        writeValue(entry, f.map.value, item, schema, where)
        w.uvarint((f.number << 3) | 2)
        w.bytes(entry.finish())
      }
      continue
    }
    const wt = wireType(f.type, schema)
    if (f.repeated) {
      const items = v as unknown[]
      if (items.length === 0) continue
      if (wt !== 2) {
        // proto3 packs repeated scalars.
        const packed = new Writer()
        for (const item of items) writeValue(packed, f.type, item, schema, where)
        w.uvarint((f.number << 3) | 2)
        w.bytes(packed.finish())
      } else {
        for (const item of items) { w.uvarint((f.number << 3) | 2); writeValue(w, f.type, item, schema, where) }
      }
      continue
    }
    if (isDefault(f.type, v, schema)) continue
    w.uvarint((f.number << 3) | wt)
    writeValue(w, f.type, v, schema, where)
  }
  return w
}

// ---- decoding -------------------------------------------------------------------------------

class Reader {
  pos = 0
  constructor(readonly buf: Buffer, readonly end = buf.length) {}
  varint(): bigint {
    let shift = 0n
    let out = 0n
    for (;;) {
      if (this.pos >= this.end) throw new Error('truncated varint')
      const b = this.buf[this.pos++] as number
      out |= BigInt(b & 0x7f) << shift
      if (b < 0x80) return out
      shift += 7n
      if (shift > 63n) throw new Error('varint too long')
    }
  }
  uvarint(): number {
    let out = 0
    let mult = 1
    for (;;) {
      if (this.pos >= this.end) throw new Error('truncated varint')
      const b = this.buf[this.pos++] as number
      out += (b & 0x7f) * mult
      if (b < 0x80) return out
      mult *= 128
      if (mult > 2 ** 49) return out + Number(this.varint()) * mult // rest of a huge varint
    }
  }
  take(n: number): Buffer {
    if (this.pos + n > this.end) throw new Error('truncated field')
    const out = this.buf.subarray(this.pos, this.pos + n)
    this.pos += n
    return out
  }
  skip(wt: number): void {
    switch (wt) {
      case 0: this.varint(); return
      case 1: this.take(8); return
      case 2: this.take(this.uvarint()); return
      case 5: this.take(4); return
      default: throw new Error(`unsupported wire type ${wt}`)
    }
  }
}

function defaultValue(f: FieldDef, schema: Schema): unknown {
  if (f.map) return {}
  if (f.repeated) return []
  switch (f.type) {
    case 'string': return ''
    case 'bytes': return Buffer.alloc(0)
    case 'bool': return false
    case 'int64': case 'uint64': case 'sint64': case 'fixed64': case 'sfixed64': return '0'
  }
  if (scalarTypes.has(f.type)) return 0
  const def = schema.types.get(f.type)
  if (def?.kind === 'enum') return def.names.get(0) ?? 0
  return null
}

function readScalar(r: Reader, type: string, schema: Schema): unknown {
  switch (type) {
    case 'string': return r.take(r.uvarint()).toString('utf8')
    case 'bytes': return Buffer.from(r.take(r.uvarint()))
    case 'bool': return r.varint() !== 0n
    case 'int32': return Number(BigInt.asIntN(32, r.varint()))
    case 'uint32': return Number(BigInt.asUintN(32, r.varint()))
    case 'int64': return BigInt.asIntN(64, r.varint()).toString()
    case 'uint64': return BigInt.asUintN(64, r.varint()).toString()
    case 'sint32': case 'sint64': {
      const n = r.varint()
      const v = (n & 1n) === 0n ? n >> 1n : -((n + 1n) >> 1n)
      return type === 'sint32' ? Number(v) : v.toString()
    }
    case 'fixed32': return r.take(4).readUInt32LE(0)
    case 'sfixed32': return r.take(4).readInt32LE(0)
    case 'fixed64': return r.take(8).readBigUInt64LE(0).toString()
    case 'sfixed64': return r.take(8).readBigInt64LE(0).toString()
    case 'float': return r.take(4).readFloatLE(0)
    case 'double': return r.take(8).readDoubleLE(0)
  }
  const def = schema.types.get(type)
  if (def?.kind === 'enum') {
    const n = Number(BigInt.asIntN(32, r.varint()))
    return def.names.get(n) ?? n
  }
  return decodeMessage(schema, type, r.take(r.uvarint()))
}

/** Decode message `type` with every field present (see the module comment). */
export function decodeMessage(schema: Schema, type: string, bytes: Buffer): Record<string, unknown> {
  const def = schema.types.get(type)
  if (def?.kind !== 'message') throw new Error(`no message type ${type}`)
  const out: Record<string, unknown> = {}
  for (const f of def.fields) out[f.name] = defaultValue(f, schema)
  const r = new Reader(bytes)
  while (r.pos < r.end) {
    const tag = r.uvarint()
    const f = def.byNumber.get(Math.floor(tag / 8))
    const wt = tag & 7
    if (f === undefined) { r.skip(wt); continue }
    if (f.map) {
      const length = r.uvarint()
      const entry = new Reader(r.buf, r.pos + length)
      entry.pos = r.pos
      let key: unknown = f.map.key === 'string' ? '' : '0'
      let value: unknown = defaultValue({ name: '', number: 0, type: f.map.value, repeated: false }, schema)
      while (entry.pos < entry.end) {
        const t = entry.uvarint()
        if (t >> 3 === 1) key = readScalar(entry, f.map.key, schema)
        else if (t >> 3 === 2) value = readScalar(entry, f.map.value, schema)
        else entry.skip(t & 7)
      }
      r.pos = entry.end
      ;(out[f.name] as Record<string, unknown>)[String(key)] = value
      continue
    }
    if (f.repeated) {
      const list = out[f.name] as unknown[]
      if (wt === 2 && wireType(f.type, schema) !== 2) {
        const length = r.uvarint()
        const packed = new Reader(r.buf, r.pos + length)
        packed.pos = r.pos
        while (packed.pos < packed.end) list.push(readScalar(packed, f.type, schema))
        r.pos = packed.end
      } else list.push(readScalar(r, f.type, schema))
      continue
    }
    const value = readScalar(r, f.type, schema)
    // A message field seen twice merges; for our messages the last one wins, which is the same.
    out[f.name] = value
  }
  return out
}
