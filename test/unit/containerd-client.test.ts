import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import {
  Server, ServerCredentials, status, type sendUnaryData, type ServerUnaryCall, type ServerWritableStream, type ServiceDefinition,
  type UntypedServiceImplementation,
} from '@grpc/grpc-js'
import { loadSync } from '@grpc/proto-loader'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { NotFoundError } from '../../src/errors.js'
import { ContainerdClient } from '../../src/containerd/index.js'
import { protoDir } from '../../src/containerd/protos.js'
import { readAll, sha256Digest } from '../../src/oci/digest.js'
import { ContainerdImageStore } from '../../src/stores/containerd.js'

// A stand-in containerd on a private unix socket: it records the metadata each call carries.
type Unary = (call: ServerUnaryCall<Record<string, unknown>, unknown>, done: sendUnaryData<unknown>) => void

const seen: { method: string; namespace: string[]; lease: string[] }[] = []
const leases = new Set<string>()
const blob = Buffer.from('hello, containerd')

function recorded(method: string, fn: Unary): Unary {
  return (call, done) => {
    seen.push({ method, namespace: call.metadata.get('containerd-namespace').map(String), lease: call.metadata.get('containerd-lease').map(String) })
    fn(call, done)
  }
}

const pkg = loadSync(['version', 'images', 'content', 'leases'].map((s) => `containerd/services/${s}/v1/${s}.proto`), {
  includeDirs: [protoDir], longs: String, enums: String, defaults: true, oneofs: true, keepCase: true,
})
const service = (name: string) => pkg[name] as ServiceDefinition

let dir: string
let server: Server
let client: ContainerdClient

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'ipcr-fake-ctrd-'))
  server = new Server()
  server.addService(service('containerd.services.version.v1.Version'), {
    Version: recorded('Version', (_call, done) => done(null, { version: 'v1.6.99', revision: 'fake' })),
  } as UntypedServiceImplementation)
  server.addService(service('containerd.services.leases.v1.Leases'), {
    Create: recorded('Leases.Create', (call, done) => {
      const id = String(call.request.id)
      leases.add(id)
      done(null, { lease: { id, labels: call.request.labels } })
    }),
    Delete: recorded('Leases.Delete', (call, done) => {
      const id = String(call.request.id)
      if (!leases.delete(id)) return done({ code: status.NOT_FOUND, details: `lease ${id}: not found` })
      done(null, {})
    }),
  } as UntypedServiceImplementation)
  server.addService(service('containerd.services.images.v1.Images'), {
    Get: recorded('Images.Get', (call, done) => done({ code: status.NOT_FOUND, details: `image "${String(call.request.name)}": not found` })),
  } as UntypedServiceImplementation)
  server.addService(service('containerd.services.content.v1.Content'), {
    Read: (call: ServerWritableStream<{ offset: string }, unknown>) => {
      for (let i = Number(call.request.offset); i < blob.length; i += 5) call.write({ offset: String(i), data: blob.subarray(i, i + 5) })
      call.end()
    },
  } as UntypedServiceImplementation)
  await new Promise<void>((resolve, reject) => server.bindAsync(`unix://${join(dir, 'c.sock')}`, ServerCredentials.createInsecure(), (err) => err ? reject(err) : resolve()))
  client = await ContainerdClient.connect({ address: join(dir, 'c.sock'), namespace: 'unit' })
})

afterAll(async () => {
  await client?.close()
  server?.forceShutdown()
  rmSync(dir, { recursive: true, force: true })
})

describe('ContainerdClient against a stand-in server', () => {
  it('sends the namespace on every call and no lease outside one', async () => {
    seen.length = 0
    expect(await client.version()).toEqual({ version: 'v1.6.99', revision: 'fake' })
    expect(seen).toEqual([{ method: 'Version', namespace: ['unit'], lease: [] }])
    seen.length = 0
    await client.withNamespace('other').version()
    expect(seen[0]?.namespace).toEqual(['other'])
  })

  it('withLease creates a lease, sends it on every call inside and deletes it once', async () => {
    seen.length = 0
    const id = await client.withLease(async (leased) => {
      await leased.version()
      await leased.withLease(async (inner) => { await inner.version() }) // nested: same lease, none created
      return leased.lease
    })
    expect(seen.map((s) => s.method)).toEqual(['Leases.Create', 'Version', 'Version', 'Leases.Delete'])
    expect(seen[1]?.lease).toEqual([id])
    expect(seen[2]?.lease).toEqual([id])
    expect(leases.size).toBe(0)
  })

  it('a lease handle\'s done() is safe to call twice, even when the lease is already gone', async () => {
    const handle = await client.createLease({ id: 'fixed' })
    await Promise.all([handle.done(), handle.done()])
    expect(leases.has('fixed')).toBe(false)
    const other = await client.createLease({ id: 'twice' })
    leases.delete('twice')
    await expect(other.done()).resolves.toBeUndefined()
  })

  it('maps NOT_FOUND on the wire to NotFoundError, and the store names the namespace', async () => {
    await expect(client.images.get('x')).rejects.toThrow(new NotFoundError('image "x": not found'))
    const store = new ContainerdImageStore(client, 'example.com/app:1')
    await expect(store.root()).rejects.toThrow('image "example.com/app:1" not found in containerd namespace "unit"')
    await store.close()
  })

  it('streams Content.Read as chunks', async () => {
    const desc = { mediaType: 'application/octet-stream', digest: sha256Digest(blob), size: blob.length }
    expect((await readAll(client.content.read(desc))).toString()).toBe(blob.toString())
    expect((await readAll(client.content.read(desc, { offset: 7 }))).toString()).toBe('containerd')
  })

  it('cancels a read when the signal aborts', async () => {
    const ac = new AbortController()
    ac.abort(new Error('stop'))
    await expect(readAll(client.content.read(sha256Digest(blob), { signal: ac.signal }))).rejects.toThrow('stop')
  })
})
