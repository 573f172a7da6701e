import { describe, expect, it } from 'vitest'
import { IpcrError, NotFoundError, UnavailableError, UsageError } from '../../src/errors.js'
import { resolveTarget, socketPathOf } from '../../src/containerd/address.js'
import { labelUpdate } from '../../src/containerd/content-rpc.js'
import { rechunk } from '../../src/containerd/content-write.js'
import { AlreadyExistsError, ContainerdError, fromGrpcError } from '../../src/containerd/errors.js'
import { childGcLabels, childrenOf } from '../../src/containerd/gc-labels.js'
import { FrameDecoder, framePrefix } from '../../src/containerd/grpc-frames.js'
import { GrpcCode, GrpcStatusError } from '../../src/containerd/grpc-status.js'
import { expireLabel, leaseRequest, randomLeaseId, rfc3339 } from '../../src/containerd/lease-options.js'
import { leaseHeader, namespaceHeader, scopeHeaders } from '../../src/containerd/metadata.js'
import { rpc } from '../../src/containerd/protos.js'
import { fromDescriptor, toDate, toDescriptor } from '../../src/containerd/wire.js'
import { sha256Digest } from '../../src/oci/digest.js'
import { MediaType } from '../../src/oci/media-types.js'

const serviceError = (code: number, details: string) => new GrpcStatusError(code, details)

describe('gRPC errors become the kinds callers branch on', () => {
  const sock = '/run/containerd/containerd.sock'

  it('maps NOT_FOUND and ALREADY_EXISTS, keeping containerd\'s message and the cause', () => {
    const nf = serviceError(GrpcCode.NOT_FOUND, 'image "x": not found')
    const mapped = fromGrpcError(nf, sock)
    expect(mapped).toBeInstanceOf(NotFoundError)
    expect((mapped as Error).message).toBe('image "x": not found')
    expect((mapped as Error).cause).toBe(nf)
    const ae = fromGrpcError(serviceError(GrpcCode.ALREADY_EXISTS, 'content sha256:abc: already exists'), sock)
    expect(ae).toBeInstanceOf(AlreadyExistsError)
    expect(ae).toBeInstanceOf(IpcrError)
    expect((ae as Error).name).toBe('AlreadyExistsError')
  })

  it('maps a lost connection to UnavailableError with the socket and a hint', () => {
    const err = fromGrpcError(serviceError(GrpcCode.UNAVAILABLE, 'No connection established. Last error: connect ECONNREFUSED'), sock)
    expect(err).toBeInstanceOf(UnavailableError)
    expect((err as Error).message).toBe(`cannot reach containerd at ${sock}: No connection established. Last error: connect ECONNREFUSED (is containerd running? set --address or CONTAINERD_ADDRESS)`)
  })

  it('keeps containerd\'s own UNAVAILABLE (a locked ingest) as it is', () => {
    const details = 'ref default/1/x locked for 1.2s (since 2024-01-01 00:00:00 +0000 UTC): unavailable'
    const err = fromGrpcError(serviceError(GrpcCode.UNAVAILABLE, details), sock)
    expect(err).toBeInstanceOf(UnavailableError)
    expect((err as Error).message).toBe(details)
  })

  it('maps a deadline to UnavailableError and anything else to ContainerdError with the code name', () => {
    expect(fromGrpcError(serviceError(GrpcCode.DEADLINE_EXCEEDED, 'Deadline exceeded'), sock)).toBeInstanceOf(UnavailableError)
    const fp = fromGrpcError(serviceError(GrpcCode.FAILED_PRECONDITION, 'unexpected commit digest'), sock)
    expect(fp).toBeInstanceOf(ContainerdError)
    expect((fp as ContainerdError).code).toBe('FAILED_PRECONDITION')
  })

  it('passes other errors through untouched', () => {
    const plain = new TypeError('bug')
    expect(fromGrpcError(plain, sock)).toBe(plain)
  })
})

describe('call metadata', () => {
  it('carries the namespace, and the lease only inside one', () => {
    const md = scopeHeaders({ namespace: 'ipcr' })
    expect(md[namespaceHeader]).toBe('ipcr')
    expect(leaseHeader in md).toBe(false)
    const leased = scopeHeaders({ namespace: 'ipcr', lease: 'l-1' })
    expect(leased).toEqual({ 'containerd-namespace': 'ipcr', 'containerd-lease': 'l-1' })
  })
})

describe('gRPC message frames', () => {
  const framed = (...messages: string[]) => Buffer.concat(messages.flatMap((m) => [framePrefix(Buffer.byteLength(m)), Buffer.from(m)]))

  it('splits messages however the bytes are cut, an empty message included', () => {
    const bytes = framed('first', '', 'third message')
    for (let cut = 1; cut <= bytes.length; cut++) {
      const decoder = new FrameDecoder(1 << 10)
      const out: string[] = []
      for (let at = 0; at < bytes.length; at += cut) for (const m of decoder.push(bytes.subarray(at, at + cut))) out.push(m.toString())
      expect(out, `cut every ${cut} bytes`).toEqual(['first', '', 'third message'])
      expect(decoder.pending).toBe(0)
    }
  })

  it('holds an unfinished message, and refuses compressed or oversized ones', () => {
    const decoder = new FrameDecoder(8)
    expect([...decoder.push(framed('12345678').subarray(0, 9))]).toEqual([])
    expect(decoder.pending).toBe(9)
    expect(() => [...new FrameDecoder(8).push(framed('123456789'))]).toThrow(/9-byte message exceeds the 8-byte limit/)
    const compressed = framed('x')
    compressed[0] = 1
    expect(() => [...new FrameDecoder(8).push(compressed)]).toThrow(/compressed/)
  })
})

describe('address', () => {
  it('accepts paths and unix URLs, and nothing else', () => {
    expect(socketPathOf('/run/containerd/containerd.sock')).toBe('/run/containerd/containerd.sock')
    expect(socketPathOf('unix:///tmp/c.sock')).toBe('/tmp/c.sock')
    expect(socketPathOf('unix:/tmp/c.sock')).toBe('/tmp/c.sock')
    expect(() => socketPathOf('tcp://127.0.0.1:1234')).toThrow(UsageError)
    expect(() => socketPathOf('')).toThrow(UsageError)
  })

  it('prefers flags, then CONTAINERD_ADDRESS / CONTAINERD_NAMESPACE, then ctr\'s defaults', () => {
    const env = { CONTAINERD_ADDRESS: '/e.sock', CONTAINERD_NAMESPACE: 'envns' }
    expect(resolveTarget({ address: '/f.sock', namespace: 'f' }, env)).toEqual({ socketPath: '/f.sock', namespace: 'f' })
    expect(resolveTarget({}, env)).toEqual({ socketPath: '/e.sock', namespace: 'envns' })
    expect(resolveTarget({}, {})).toEqual({ socketPath: '/run/containerd/containerd.sock', namespace: 'default' })
  })
})

describe('lease requests', () => {
  const now = new Date('2024-05-06T07:08:09.123Z')

  it('expire in a day by default, written as Go\'s RFC 3339', () => {
    expect(rfc3339(now)).toBe('2024-05-06T07:08:09Z')
    const req = leaseRequest({}, now)
    expect(req.labels).toEqual({ [expireLabel]: '2024-05-07T07:08:09Z' })
    expect(req.id).toMatch(/^ipcr-\d+-[A-Za-z0-9_-]{4}$/)
  })

  it('take a fixed id, no expiry and extra labels', () => {
    expect(leaseRequest({ id: 'keep', expire: false, labels: { a: 'b' } }, now)).toEqual({ id: 'keep', labels: { a: 'b' } })
    expect(leaseRequest({ expire: 60_000 }, now).labels[expireLabel]).toBe('2024-05-06T07:09:09Z')
    expect(randomLeaseId(now)).not.toBe(randomLeaseId(now))
  })
})

describe('gc labels (containerd images.ChildGCLabels)', () => {
  const d = (mediaType: string, s: string) => ({ mediaType, digest: sha256Digest(s), size: s.length })

  it('label a manifest\'s config and numbered layers', () => {
    const config = d(MediaType.OciConfig, 'c')
    const l0 = d(MediaType.OciLayerGzip, 'l0')
    const l1 = d(MediaType.DockerLayerGzip, 'l1')
    const manifest = { schemaVersion: 2, config, layers: [l0, l1] }
    expect(childGcLabels(childrenOf(MediaType.OciManifest, manifest))).toEqual({
      'containerd.io/gc.ref.content.config': config.digest,
      'containerd.io/gc.ref.content.l.0': l0.digest,
      'containerd.io/gc.ref.content.l.1': l1.digest,
    })
  })

  it('label an index\'s manifests as m.<i> and anything else as <i>', () => {
    const m0 = d(MediaType.OciManifest, 'm0')
    const m1 = d(MediaType.DockerManifest, 'm1')
    const nested = d(MediaType.OciIndex, 'i')
    expect(childGcLabels(childrenOf(MediaType.OciIndex, { manifests: [m0, nested, m1] }))).toEqual({
      'containerd.io/gc.ref.content.m.0': m0.digest,
      'containerd.io/gc.ref.content.0': nested.digest,
      'containerd.io/gc.ref.content.m.1': m1.digest,
    })
  })

  it('find no children in other blobs or malformed documents', () => {
    expect(childrenOf(MediaType.OciConfig, { config: d(MediaType.OciConfig, 'x') })).toEqual([])
    expect(childrenOf(MediaType.OciManifest, null)).toEqual([])
    expect(childrenOf(MediaType.OciManifest, { layers: [{ digest: 1 }] })).toEqual([])
  })
})

describe('content helpers', () => {
  it('rechunk makes full-size messages from any chunking', async () => {
    async function* parts(): AsyncGenerator<Uint8Array> {
      yield Buffer.alloc(3, 1); yield Buffer.alloc(10, 2); yield Buffer.alloc(0); yield Buffer.alloc(2, 3)
    }
    const out: Uint8Array[] = []
    const lengths: number[] = []
    for await (const c of rechunk(parts(), 4)) {
      lengths.push(c.length)
      out.push(Buffer.concat(c.parts))
    }
    expect(lengths).toEqual([4, 4, 4, 3])
    expect(out.map((c) => c.byteLength)).toEqual(lengths)
    expect(Buffer.concat(out)).toEqual(Buffer.concat([Buffer.alloc(3, 1), Buffer.alloc(10, 2), Buffer.alloc(2, 3)]))
  })

  it('a label update touches only the named labels; undefined removes one', () => {
    const digest = sha256Digest('x')
    expect(labelUpdate(digest, { a: '1', gone: undefined })).toEqual({
      info: { digest, size: '0', labels: { a: '1' } },
      update_mask: { paths: ['labels.a', 'labels.gone'] },
    })
  })
})

describe('protos', () => {
  const services: Record<string, string[]> = {
    'containerd.services.version.v1.Version': ['Version'],
    'containerd.services.images.v1.Images': ['Get', 'List', 'Create', 'Update', 'Delete'],
    'containerd.services.content.v1.Content': ['Info', 'Update', 'List', 'Delete', 'Read', 'Status', 'Write', 'Abort'],
    'containerd.services.leases.v1.Leases': ['Create', 'Delete', 'List', 'AddResource', 'DeleteResource', 'ListResources'],
    'containerd.services.introspection.v1.Introspection': ['Plugins', 'Server'],
    'containerd.services.snapshots.v1.Snapshots': ['Prepare', 'View', 'Mounts', 'Commit', 'Remove', 'Stat', 'List', 'Usage'],
    'containerd.services.diff.v1.Diff': ['Apply', 'Diff'],
  }

  it('load every RPC we call, under containerd\'s paths', () => {
    for (const [service, methods] of Object.entries(services)) {
      for (const m of methods) expect(rpc(service, m).path).toBe(`/${service}/${m}`)
    }
    expect(() => rpc('containerd.services.content.v1.Content', 'Nope')).toThrow()
  })

  it('encode a Write request with containerd\'s field numbers', () => {
    const write = rpc<object, object>('containerd.services.content.v1.Content', 'Write')
    const bytes = write.serialize({ action: 'COMMIT', ref: 'r', total: '5', offset: '5', expected: 'sha256:x' })
    // action=2 (field 1 varint), ref (2, bytes), total=5 (3), expected (4), offset=5 (5)
    expect(Buffer.from(bytes).toString('hex')).toBe('0802120172180522087368613235363a78' + '2805')
  })

  it('encode a WRITE whose data comes in pieces as the joined bytes would be, without copying the pieces', () => {
    const write = rpc<object, object>('containerd.services.content.v1.Content', 'Write')
    const pieces = [Buffer.alloc(5000, 1), Buffer.alloc(3, 2), Buffer.alloc(70_000, 3)]
    const whole = write.serialize({ action: 'WRITE', offset: '7', data: Buffer.concat(pieces) })
    const parts = write.serializeParts({ action: 'WRITE', offset: '7', data: pieces })
    expect(Buffer.concat(parts)).toEqual(whole)
    for (const p of pieces) expect(parts).toContain(p) // by reference: the same objects, not copies
    // Small pieces are copied into the message like any short field.
    const small = write.serializeParts({ action: 'WRITE', data: [Buffer.from('ab'), Buffer.from('c')] })
    expect(Buffer.concat(small)).toEqual(write.serialize({ action: 'WRITE', data: Buffer.from('abc') }))
    expect(Buffer.concat(write.serializeParts({ action: 'WRITE', data: [] }))).toEqual(write.serialize({ action: 'WRITE' }))
  })

  it('decode int64 as strings and enums as names', () => {
    const write = rpc<object, { action: string; offset: string; digest: string }>('containerd.services.content.v1.Content', 'Write')
    const res = write.deserialize(Buffer.from('0801' + '20' + '808080808020', 'hex')) // action WRITE, offset 2^40
    expect(res.action).toBe('WRITE')
    expect(res.offset).toBe(String(2 ** 40))
    expect(res.digest).toBe('')
  })
})

describe('wire conversions', () => {
  it('round-trip a descriptor; containerd carries no urls or platform', () => {
    const desc = { mediaType: MediaType.OciManifest, digest: sha256Digest('m'), size: 123, annotations: { a: 'b' } }
    expect(toDescriptor(fromDescriptor(desc))).toEqual(desc)
    expect(toDescriptor({ ...fromDescriptor(desc), annotations: {} })).toEqual({ mediaType: desc.mediaType, digest: desc.digest, size: 123 })
  })

  it('turn timestamps into dates', () => {
    expect(toDate({ seconds: '1714979289', nanos: 123_456_789 })?.toISOString()).toBe('2024-05-06T07:08:09.123Z')
    expect(toDate(null)).toBeUndefined()
  })
})
