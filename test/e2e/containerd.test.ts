import { randomBytes } from 'node:crypto'
import { createServer, type Server, type Socket } from 'node:net'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { IntegrityError, NotFoundError, UnavailableError } from '../../src/errors.js'
import { ContainerdClient, uncompressedLabel } from '../../src/containerd/index.js'
import { transportKinds } from '../../src/containerd/transport.js'
import { readAll, sha256Digest, type Digest } from '../../src/oci/digest.js'
import type { Descriptor } from '../../src/oci/descriptor.js'
import { MediaType } from '../../src/oci/media-types.js'
import { ContainerdImageStore } from '../../src/stores/containerd.js'
import { rigEnv } from '../support/rig.js'

// Runs against the real containerd the rig starts (test/support/rig.ts exports CONTAINERD_ADDRESS).
const namespace = `ipcr-e2e-${process.pid}`
let client: ContainerdClient

beforeAll(async () => {
  const address = process.env.CONTAINERD_ADDRESS
  if (!address) throw new Error('CONTAINERD_ADDRESS is not set: these tests need the containerd that scripts/rig.sh starts')
  client = await ContainerdClient.connect({ address, namespace })
})

afterAll(async () => {
  if (client === undefined) return
  for (const image of await client.images.list()) await client.images.delete(image.name)
  await client.leases.delete((await client.leases.create({ id: `${namespace}-gc` })).id, { sync: true }) // collect garbage now
  await client.close()
})

function blob(bytes: Buffer, mediaType = 'application/octet-stream'): Descriptor {
  return { mediaType, digest: sha256Digest(bytes), size: bytes.length }
}

async function* chunks(bytes: Buffer, size = 100_000): AsyncGenerator<Uint8Array> {
  for (let i = 0; i < bytes.length; i += size) yield bytes.subarray(i, i + size)
}

async function exists(digest: Digest): Promise<boolean> {
  return client.content.info(digest).then(() => true, (err: unknown) => {
    if (err instanceof NotFoundError) return false
    throw err
  })
}

async function collectGarbage(): Promise<void> {
  const lease = await client.leases.create({ id: `${namespace}-gc-${Date.now()}` })
  await client.leases.delete(lease.id, { sync: true })
}

test('version answers', async () => {
  const v = await client.version()
  expect(v.version).toMatch(/^v?\d+\.\d+/)
})

test('introspection reports the rig\'s stargz snapshotter present and working', async () => {
  expect(await client.introspection.snapshotter('stargz')).toEqual({ present: true, ok: true, capabilities: [] })
  expect(await client.introspection.snapshotter('no-such-snapshotter')).toEqual({ present: false, ok: false, capabilities: [] })
  const plugins = await client.introspection.plugins(['type==io.containerd.snapshotter.v1'])
  expect(plugins.map((p) => p.id)).toContain('overlayfs')
})

test('overlayfs can rebase snapshots on containerd 2 (layers unpack side by side), not on Debian\'s 1.6', async () => {
  const overlay = await client.introspection.snapshotter('overlayfs')
  expect(overlay.ok).toBe(true)
  expect(overlay.capabilities.includes('rebase')).toBe(rigEnv().IPCR_RIG_CONTAINERD === '2')
})

describe('content', () => {
  const data = randomBytes(3 * 1024 * 1024 + 123)
  const desc = blob(data)

  test('a blob written in a lease reads back byte for byte, also in part', async () => {
    await client.withLease(async (leased) => {
      const result = await leased.content.write(desc, chunks(data))
      expect(result).toEqual({ written: true, resumedAt: 0 })
      expect(Buffer.compare(await readAll(leased.content.read(desc)), data)).toBe(0)
      const part = await readAll(leased.content.read(desc, { offset: 1000, size: 70_000 }))
      expect(Buffer.compare(part, data.subarray(1000, 71_000))).toBe(0)
      expect((await leased.content.info(desc.digest)).size).toBe(data.length)
    })
  })

  test('writing a blob that is already there succeeds and adds labels', async () => {
    await client.withLease(async (leased) => {
      await leased.content.write(desc, chunks(data))
      const again = await leased.content.write(desc, chunks(data), { labels: { [uncompressedLabel]: desc.digest } })
      expect(again.written).toBe(false)
      expect((await leased.content.info(desc.digest)).labels[uncompressedLabel]).toBe(desc.digest)
    })
  })

  test('a small blob in memory goes in with its labels, replacing a stale ingest; wrong bytes never reach containerd', async () => {
    const small = randomBytes(300_000)
    const d = blob(small)
    const ref = `${namespace}-small`
    await client.withLease(async (leased) => {
      async function* breaksOff(): AsyncGenerator<Uint8Array> {
        yield small.subarray(0, 100_000)
        throw new Error('network gone')
      }
      await expect(leased.content.write(d, breaksOff(), { ref, chunkBytes: 50_000 })).rejects.toThrow('network gone')
      expect((await leased.content.status(ref)).offset).toBe(100_000)
      const result = await leased.content.write(d, small, { ref, labels: { [uncompressedLabel]: d.digest } })
      expect(result).toEqual({ written: true, resumedAt: 0 })
      expect(Buffer.compare(await readAll(leased.content.read(d)), small)).toBe(0)
      expect((await leased.content.info(d.digest)).labels[uncompressedLabel]).toBe(d.digest)
      await expect(leased.content.status(ref)).rejects.toBeInstanceOf(NotFoundError)

      const wrongRef = `${namespace}-small-wrong`
      await expect(leased.content.write(blob(randomBytes(5000)), randomBytes(5000), { ref: wrongRef })).rejects.toThrow(/hash to/)
      await expect(leased.content.status(wrongRef)).rejects.toBeInstanceOf(NotFoundError)
      expect((await leased.content.write(d, small)).written).toBe(false)
    })
  })

  test('bytes that do not match the digest are refused and leave nothing behind', async () => {
    const claimed = blob(randomBytes(4096))
    const ref = `${namespace}-wrong`
    await client.withLease(async (leased) => {
      await expect(leased.content.write(claimed, chunks(randomBytes(4096)), { ref })).rejects.toBeInstanceOf(IntegrityError)
      await expect(leased.content.status(ref)).rejects.toBeInstanceOf(NotFoundError)
    })
    expect(await exists(claimed.digest)).toBe(false)
  })

  test('an interrupted write resumes where containerd stopped', async () => {
    const bytes = randomBytes(3 * 1024 * 1024)
    const d = blob(bytes)
    const ref = `${namespace}-resume`
    await client.withLease(async (leased) => {
      async function* breaksOff(): AsyncGenerator<Uint8Array> {
        yield bytes.subarray(0, 1 << 20)
        throw new Error('network gone')
      }
      await expect(leased.content.write(d, () => breaksOff(), { ref })).rejects.toThrow('network gone')
      expect((await leased.content.status(ref)).offset).toBe(1 << 20)
      const asked: number[] = []
      const result = await leased.content.write(d, (offset) => { asked.push(offset); return chunks(bytes.subarray(offset)) }, { ref })
      expect(result).toEqual({ written: true, resumedAt: 1 << 20 })
      expect(asked).toEqual([1 << 20])
      expect(Buffer.compare(await readAll(leased.content.read(d)), bytes)).toBe(0)
    })
  })

  test('containerd itself refuses a commit whose bytes do not match, and the ingest is dropped', async () => {
    const bytes = randomBytes(2 * 1024 * 1024)
    const d = blob(bytes)
    const ref = `${namespace}-bad-resume`
    await client.withLease(async (leased) => {
      async function* wrongStart(): AsyncGenerator<Uint8Array> {
        yield randomBytes(1 << 20)
        throw new Error('network gone')
      }
      await expect(leased.content.write(d, () => wrongStart(), { ref })).rejects.toThrow('network gone')
      // Resuming hands over only the tail, which we cannot check: containerd's commit check must catch it.
      await expect(leased.content.write(d, (offset) => chunks(bytes.subarray(offset)), { ref })).rejects.toBeInstanceOf(IntegrityError)
      await expect(leased.content.status(ref)).rejects.toBeInstanceOf(NotFoundError)
    })
    expect(await exists(d.digest)).toBe(false)
  })
})

describe('leases', () => {
  test('withLease deletes its lease afterwards, also when the work fails', async () => {
    let id = ''
    await client.withLease(async (leased) => {
      id = leased.lease ?? ''
      expect((await client.leases.list([`id==${id}`])).map((l) => l.id)).toEqual([id])
      const lease = (await client.leases.list([`id==${id}`]))[0]
      expect(lease?.labels['containerd.io/gc.expire']).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/)
    })
    expect(id).not.toBe('')
    expect(await client.leases.list([`id==${id}`])).toEqual([])
    await expect(client.withLease(async (leased) => { id = leased.lease ?? ''; throw new Error('boom') })).rejects.toThrow('boom')
    expect(await client.leases.list([`id==${id}`])).toEqual([])
  })

  test('a nested withLease reuses the outer lease, and done() may be called twice', async () => {
    const handle = await client.createLease({ id: `${namespace}-fixed`, expire: false })
    expect(handle.lease.labels).toEqual({})
    await handle.client.withLease(async (inner) => expect(inner.lease).toBe(`${namespace}-fixed`))
    expect((await client.leases.list([`id==${namespace}-fixed`])).length).toBe(1)
    await handle.done()
    await handle.done()
    expect(await client.leases.list([`id==${namespace}-fixed`])).toEqual([])
  })

  test('what a lease alone holds is collected after it goes', async () => {
    const bytes = randomBytes(1000)
    const desc = blob(bytes)
    await client.withLease(async (leased) => {
      await leased.content.write(desc, chunks(bytes))
      expect(await exists(desc.digest)).toBe(true)
    })
    await collectGarbage()
    expect(await exists(desc.digest)).toBe(false)
  })
})

describe('image store', () => {
  const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] } }))
  const layer = randomBytes(5000)
  const configDesc = blob(config, MediaType.OciConfig)
  const layerDesc = blob(layer, MediaType.OciLayerGzip)
  const manifest = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MediaType.OciManifest, config: configDesc, layers: [layerDesc] }))
  const manifestDesc = blob(manifest, MediaType.OciManifest)
  const name = `example.com/ipcr/e2e:${process.pid}`

  test('images: create, get, list, update, delete', async () => {
    const n = `${name}-records`
    const created = await client.images.create({ name: n, target: manifestDesc, labels: { a: 'b' } })
    expect(created.target).toEqual(manifestDesc)
    expect((await client.images.get(n)).labels).toEqual({ a: 'b' })
    expect((await client.images.list([`name==${n}`])).map((i) => i.name)).toEqual([n])
    const moved = await client.images.update({ name: n, target: configDesc }, ['target'])
    expect(moved.target.digest).toBe(configDesc.digest)
    expect(moved.labels).toEqual({ a: 'b' })
    await client.images.delete(n)
    await expect(client.images.get(n)).rejects.toBeInstanceOf(NotFoundError)
  })

  test('an image copied in survives its lease: manifests carry gc labels for their children', async () => {
    const sink = new ContainerdImageStore(client, name)
    await sink.putBlob(layerDesc, chunks(layer))
    await sink.putBlob(configDesc, chunks(config))
    await sink.putBlob(manifestDesc, chunks(manifest))
    await sink.tag(manifestDesc)
    await sink.tag(manifestDesc) // an existing name is moved, not refused
    await sink.close()
    await collectGarbage()

    const labels = (await client.content.info(manifestDesc.digest)).labels
    expect(labels).toEqual({
      'containerd.io/gc.ref.content.config': configDesc.digest,
      'containerd.io/gc.ref.content.l.0': layerDesc.digest,
    })
    const source = new ContainerdImageStore(client, name)
    expect(await source.root()).toEqual(manifestDesc)
    expect(Buffer.compare(await readAll(source.blob(layerDesc)), layer)).toBe(0)
    await source.close()
  })

  test('an unknown name is NotFoundError naming the namespace', async () => {
    const store = new ContainerdImageStore(client, 'example.com/nope:missing')
    await expect(store.root()).rejects.toThrow(new NotFoundError(`image "example.com/nope:missing" not found in containerd namespace "${namespace}"`))
    await store.close()
  })
})

// The suite above runs on the default transport (IPCR_GRPC_TRANSPORT); containerd's own ways, on
// both: Write ends with RST_STREAM NO_ERROR after its answer, Read streams past every window, a
// refusal comes as a status in the trailers, and leaving a Read early cancels it.
describe.each(transportKinds)('containerd on the %s transport', (transport) => {
  let on: ContainerdClient
  beforeAll(async () => { on = await ContainerdClient.connect({ address: process.env.CONTAINERD_ADDRESS, namespace, transport }) })
  afterAll(async () => { await on?.close() })

  test('writes, reads back, refuses and cancels', async () => {
    const data = randomBytes(9 * 1024 * 1024 + 7) // past the 4 MiB stream window we give containerd
    const desc = blob(data)
    await on.withLease(async (leased) => {
      expect(await leased.content.write(desc, chunks(data, 1 << 20))).toEqual({ written: true, resumedAt: 0 })
      expect(Buffer.compare(await readAll(leased.content.read(desc)), data)).toBe(0)
      for await (const part of leased.content.read(desc)) { expect(part.length).toBeGreaterThan(0); break }
      await expect(leased.content.info(sha256Digest(randomBytes(8)))).rejects.toBeInstanceOf(NotFoundError)
      // containerd's commit refuses bytes that are not the digest's: a status in Write's trailers.
      await expect(leased.content.write(blob(randomBytes(5000)), chunks(randomBytes(5000)))).rejects.toBeInstanceOf(IntegrityError)
      expect((await leased.version()).version).toMatch(/^v?\d+\.\d+/) // the connection is still good
    })
    await expect(on.leases.delete(`${namespace}-never-made`)).rejects.toBeInstanceOf(NotFoundError)
  })
})

describe('unreachable containerd', () => {
  let dir: string
  let silent: Server
  const accepted: Socket[] = []
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'ipcr-ctrd-'))
    silent = createServer((socket) => { accepted.push(socket) }) // accept and say nothing
    await new Promise<void>((resolve) => silent.listen(join(dir, 'silent.sock'), resolve))
  })
  afterAll(async () => {
    for (const socket of accepted) socket.destroy()
    await new Promise((resolve) => silent.close(resolve))
    rmSync(dir, { recursive: true, force: true })
  })

  test('a missing socket fails at once with UnavailableError naming it', async () => {
    const socket = join(dir, 'missing.sock')
    const started = Date.now()
    const err = await ContainerdClient.connect({ address: socket }).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(UnavailableError)
    expect((err as Error).message).toBe(`cannot reach containerd at ${socket}: no socket there (is containerd running? set --address or CONTAINERD_ADDRESS)`)
    expect(Date.now() - started).toBeLessThan(2000)
  })

  test('a socket that does not speak gRPC fails within the connect timeout', async () => {
    const started = Date.now()
    const err = await ContainerdClient.connect({ address: `unix://${join(dir, 'silent.sock')}`, connectTimeoutMs: 500 }).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(UnavailableError)
    expect((err as Error).message).toContain('no gRPC answer within 500 ms')
    expect(Date.now() - started).toBeLessThan(3000)
  })
})
