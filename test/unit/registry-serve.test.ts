// `ipcr registry serve` in process over the embedded store (a temp dir): routing, names, the
// spec's error bodies, Range, HEAD, the digest-table cache, verification cut-offs and the drain.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createHash, randomBytes } from 'node:crypto'
import { mkdtemp } from 'node:fs/promises'
import { request } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseCid } from '../../src/ipfs/cid.js'
import { EmbeddedIpfs } from '../../src/ipfs/embedded.js'
import type { Descriptor } from '../../src/oci/descriptor.js'
import { sha256Digest } from '../../src/oci/digest.js'
import { MediaType } from '../../src/oci/media-types.js'
import { pushImage } from '../../src/push/push.js'
import type { AccessEntry } from '../../src/registry/access-log.js'
import { ipfsBlobReader } from '../../src/registry/blob-reader.js'
import { ImageCatalog } from '../../src/registry/catalog.js'
import { RegistryMetrics } from '../../src/registry/metrics.js'
import type { BlobReader } from '../../src/registry/roles.js'
import { serveRegistry } from '../../src/registry/server.js'
import { cidOfDescriptor } from '../../src/stores/ipfs.js'
import { MemoryImage } from '../support/memory-image.js'

const ref = 'ceo.test/org/app:1'
let ipfs: EmbeddedIpfs
let root: string
let index: Descriptor
let arm: Descriptor
let layer: { desc: Descriptor; bytes: Buffer }
const log: AccessEntry[] = []
let metrics: RegistryMetrics
let server: Awaited<ReturnType<typeof serveRegistry>>

async function start(reader?: BlobReader): Promise<Awaited<ReturnType<typeof serveRegistry>>> {
  metrics = new RegistryMetrics()
  const catalog = new ImageCatalog(ipfs, {
    resolveTimeoutMs: 2000, events: metrics,
    knownRefs: async () => ['ceo.test/org/app:3', 'ceo.test/org/app:2', 'ceo.test/other:9'],
  })
  return serveRegistry({
    manifests: catalog, blobs: catalog, tags: catalog, referrers: { referrers: async () => [] }, reader: reader ?? ipfsBlobReader(ipfs),
    health: { healthy: async () => true }, metrics, onRequest: (e) => log.push(e),
  }, { host: '127.0.0.1', port: 0 })
}

beforeAll(async () => {
  ipfs = new EmbeddedIpfs(await mkdtemp(join(tmpdir(), 'ipcr-registry-')))
  const img = new MemoryImage()
  // Over 256 KiB: a multi-block UnixFS file, so spans cross block boundaries.
  const bytes = randomBytes(700_000)
  const manifestFor = (arch: string, layerDesc: Descriptor): Descriptor => {
    const config = img.putJson(MediaType.OciConfig, { architecture: arch, os: 'linux', rootfs: { type: 'layers', diff_ids: [sha256Digest(arch)] } })
    return img.putJson(MediaType.OciManifest, { schemaVersion: 2, mediaType: MediaType.OciManifest, config, layers: [layerDesc] })
  }
  const big = img.put(MediaType.OciLayerGzip, bytes)
  const small = img.put(MediaType.OciLayerGzip, 'arm layer')
  img.rootDesc = img.putJson(MediaType.OciIndex, {
    schemaVersion: 2, mediaType: MediaType.OciIndex,
    manifests: [{ ...manifestFor('amd64', big), platform: { architecture: 'amd64', os: 'linux' } }, { ...manifestFor('arm64', small), platform: { architecture: 'arm64', os: 'linux' } }],
  })
  const pushed = await pushImage(img, ipfs, { platforms: { all: true } })
  root = pushed.rootCid
  index = pushed.root
  const children = JSON.parse((await fetchBytesFromIpfs(index)).toString()) as { manifests: Descriptor[] }
  arm = children.manifests[1] as Descriptor
  const amdManifest = JSON.parse((await fetchBytesFromIpfs(children.manifests[0] as Descriptor)).toString()) as { layers: Descriptor[] }
  layer = { desc: amdManifest.layers[0] as Descriptor, bytes }
  await (await ipfs.ipns()).publish(parseCid(root), { ref, lifetimeMs: 3_600_000, ttlMs: 60_000 })
  server = await start()
})

afterAll(async () => {
  await server?.close()
})

async function fetchBytesFromIpfs(d: Descriptor): Promise<Buffer> {
  const parts: Uint8Array[] = []
  for await (const c of ipfs.cat(cidOfDescriptor(d))) parts.push(c)
  return Buffer.concat(parts)
}

async function get(path: string, init: RequestInit = {}): Promise<{ status: number; headers: Headers; body: Buffer }> {
  const res = await fetch(`${server.url}${path}`, init)
  return { status: res.status, headers: res.headers, body: Buffer.from(await res.arrayBuffer()) }
}

/** The spec's error body, with one error of `code`. */
async function expectError(path: string, status: number, code: string, init: RequestInit = {}): Promise<void> {
  const r = await get(path, init)
  expect(r.status, path).toBe(status)
  expect(r.headers.get('content-type')).toBe('application/json')
  const body = JSON.parse(r.body.toString()) as { errors: Array<{ code: string; message: string; detail: unknown }> }
  expect(body.errors).toHaveLength(1)
  expect(body.errors[0]?.code).toBe(code)
  expect(body.errors[0]?.message).toMatch(/\w/)
}

describe('registry serve: reads', () => {
  it('answers /v2/ with the API version header', async () => {
    const r = await get('/v2/')
    expect(r.status).toBe(200)
    expect(r.headers.get('docker-distribution-api-version')).toBe('registry/2.0')
  })

  it('serves the root\'s target for ipfs/<CID>:latest, byte for byte as in IPFS, by GET and HEAD', async () => {
    const r = await get(`/v2/ipfs/${root}/manifests/latest`)
    expect(r.status).toBe(200)
    expect(r.body.equals(await fetchBytesFromIpfs(index))).toBe(true)
    expect(r.headers.get('docker-content-digest')).toBe(index.digest)
    expect(r.headers.get('content-type')).toBe(MediaType.OciIndex)
    expect(JSON.parse(r.body.toString()).manifests[0].urls[0]).toMatch(/^ipfs:\/\/baf/)
    const h = await get(`/v2/ipfs/${root}/manifests/latest`, { method: 'HEAD' })
    expect(h.status).toBe(200)
    expect(h.body.byteLength).toBe(0)
    expect(h.headers.get('content-length')).toBe(String(index.size))
    expect(h.headers.get('docker-content-digest')).toBe(index.digest)
    // Every platform's manifest, by digest.
    const m = await get(`/v2/ipfs/${root}/manifests/${arm.digest}`)
    expect(m.status).toBe(200)
    expect(sha256Digest(m.body)).toBe(arm.digest)
  })

  it('resolves references through IPNS: HOST/R:T in the path, and R:T with ?ns=HOST as containerd asks a mirror', async () => {
    const a = await get('/v2/ceo.test/org/app/manifests/1')
    const b = await get('/v2/org/app/manifests/1?ns=ceo.test')
    expect([a.status, b.status]).toEqual([200, 200])
    expect(a.headers.get('docker-content-digest')).toBe(index.digest)
    expect(b.body.equals(a.body)).toBe(true)
    const blob = await get(`/v2/org/app/blobs/${layer.desc.digest}?ns=ceo.test`)
    expect(blob.status).toBe(200)
    expect(blob.body.equals(layer.bytes)).toBe(true)
    const byDigest = await get(`/v2/org/app/manifests/${arm.digest}?ns=ceo.test`)
    expect(sha256Digest(byDigest.body)).toBe(arm.digest)
  })

  it('streams blobs whole (hashed), and spans with 206 and Content-Range; past the end is 416', async () => {
    const path = `/v2/ipfs/${root}/blobs/${layer.desc.digest}`
    const whole = await get(path)
    expect(whole.status).toBe(200)
    expect(createHash('sha256').update(whole.body).digest('hex')).toBe(layer.desc.digest.slice(7))
    expect(whole.headers.get('accept-ranges')).toBe('bytes')
    const span = await get(path, { headers: { range: 'bytes=262000-524999' } })
    expect(span.status).toBe(206)
    expect(span.headers.get('content-range')).toBe(`bytes 262000-524999/${layer.bytes.byteLength}`)
    expect(span.body.equals(layer.bytes.subarray(262000, 525000))).toBe(true)
    const suffix = await get(path, { headers: { range: 'bytes=-100' } })
    expect(suffix.body.equals(layer.bytes.subarray(layer.bytes.byteLength - 100))).toBe(true)
    const open = await get(path, { headers: { range: 'bytes=699990-' } })
    expect(open.body.equals(layer.bytes.subarray(699990))).toBe(true)
    await expectError(path, 416, 'RANGE_INVALID', { headers: { range: `bytes=${layer.bytes.byteLength}-` } })
    expect((await get(path, { headers: { range: 'bytes=800000-800010' } })).headers.get('content-range')).toBe(`bytes */${layer.bytes.byteLength}`)
    const head = await get(path, { method: 'HEAD' })
    expect([head.status, head.body.byteLength, head.headers.get('content-length')]).toEqual([200, 0, String(layer.bytes.byteLength)])
  })

  it('lists tags with n and last, linking the next page', async () => {
    await get('/v2/org/app/manifests/1?ns=ceo.test')
    const all = await get('/v2/org/app/tags/list?ns=ceo.test')
    expect(JSON.parse(all.body.toString())).toEqual({ name: 'org/app', tags: ['1', '2', '3'] })
    const page = await get('/v2/org/app/tags/list?ns=ceo.test&n=2')
    expect(JSON.parse(page.body.toString()).tags).toEqual(['1', '2'])
    expect(page.headers.get('link')).toBe('</v2/org/app/tags/list?n=2&last=2&ns=ceo.test>; rel="next"')
    expect(JSON.parse((await get('/v2/org/app/tags/list?ns=ceo.test&n=2&last=2')).body.toString()).tags).toEqual(['3'])
    expect(JSON.parse((await get(`/v2/ipfs/${root}/tags/list`)).body.toString()).tags).toEqual(['latest'])
    await expectError('/v2/nobody/here/tags/list', 404, 'NAME_UNKNOWN')
  })

  it('answers referrers with an empty OCI index', async () => {
    const r = await get(`/v2/ipfs/${root}/referrers/${index.digest}`)
    expect(r.status).toBe(200)
    expect(r.headers.get('content-type')).toBe(MediaType.OciIndex)
    expect(JSON.parse(r.body.toString())).toEqual({ schemaVersion: 2, mediaType: MediaType.OciIndex, manifests: [] })
  })

  it('walks an image once: later manifest and blob requests hit the digest-table cache', async () => {
    const text = await (await get('/metrics')).body.toString()
    const misses = Number(/ipcr_registry_digest_table_cache_total\{result="miss"\} (\d+)/.exec(text)?.[1])
    const hits = Number(/ipcr_registry_digest_table_cache_total\{result="hit"\} (\d+)/.exec(text)?.[1])
    expect(misses).toBe(1) // one root, walked once, whichever of its names was asked
    expect(hits).toBeGreaterThan(10)
    expect(text).toMatch(/ipcr_registry_requests_total\{route="blob",method="GET",status="206"\} \d+/)
    expect(text).toMatch(/ipcr_registry_bytes_served_total\{route="blob"\} \d+/)
    expect(text).toMatch(/ipcr_registry_ipns_resolve_seconds_count\{outcome="ok"\} [1-9]/)
  })
})

describe('registry serve: errors by the spec', () => {
  it('names, digests, references and methods', async () => {
    await expectError('/v2/Org/App/manifests/1', 400, 'NAME_INVALID')
    await expectError('/v2/ipfs/notacid/manifests/latest', 400, 'NAME_INVALID')
    await expectError('/v2/org/app/manifests/1?ns=bad host', 400, 'NAME_INVALID')
    await expectError(`/v2/ipfs/${root}/blobs/sha256:abc`, 400, 'DIGEST_INVALID')
    await expectError(`/v2/ipfs/${root}/manifests/sha256:XYZ`, 400, 'DIGEST_INVALID')
    await expectError(`/v2/ipfs/${root}/manifests/v2`, 404, 'MANIFEST_UNKNOWN')
    await expectError(`/v2/ipfs/${root}/blobs/${sha256Digest('not in the image')}`, 404, 'BLOB_UNKNOWN')
    await expectError(`/v2/ipfs/${root}/manifests/${layer.desc.digest}`, 404, 'MANIFEST_UNKNOWN')
    await expectError('/v2/ipfs/bafkreie7754qk7fl56ebauawdgfuqqa3kdd7sotvuhsm6wbz3qin6ssw3a/manifests/latest', 404, 'NAME_UNKNOWN')
    await expectError('/v2/ipns/k51qzi5uqu5dlvj2baxnqndepeb86cbk3ng7n3i46uzyxzyqj2xjonzllnv0v8/manifests/latest', 404, 'NAME_UNKNOWN')
    await expectError('/v2/never/pushed/manifests/1?ns=ceo.test', 404, 'MANIFEST_UNKNOWN')
    // A repository whose tags nobody resolved here has no images to find blobs in.
    await expectError(`/v2/some/repo/blobs/${layer.desc.digest}`, 404, 'BLOB_UNKNOWN')
    for (const method of ['POST', 'PUT', 'PATCH', 'DELETE']) {
      await expectError(`/v2/ipfs/${root}/blobs/uploads/`, 405, 'UNSUPPORTED', { method })
      await expectError(`/v2/ipfs/${root}/manifests/latest`, 405, 'UNSUPPORTED', { method })
    }
    await expectError('/v3/anything', 404, 'NAME_UNKNOWN')
    const logged = log.find((e) => e.url === `/v2/ipfs/${root}/blobs/sha256:abc`)
    expect(logged).toMatchObject({ status: 400, code: 'DIGEST_INVALID', route: 'blob', method: 'GET' })
  })

  it('cuts a whole blob whose bytes do not match its digest before its last byte', async () => {
    // A reader that returns the right number of wrong bytes (no block check could catch a lying backend here).
    const wrong = Buffer.alloc(layer.bytes.byteLength, 7)
    const liar = await start({ read: async function* () { yield wrong.subarray(0, 300_000); yield wrong.subarray(300_000) } })
    try {
      const got = await new Promise<{ status: number; bytes: number; error?: string }>((resolve) => {
        const req = request(`${liar.url}/v2/ipfs/${root}/blobs/${layer.desc.digest}`, (res) => {
          let bytes = 0
          res.on('data', (b: Buffer) => { bytes += b.byteLength })
          res.on('error', (e) => resolve({ status: res.statusCode ?? 0, bytes, error: e.message }))
          res.on('end', () => resolve({ status: res.statusCode ?? 0, bytes }))
        })
        req.on('error', (e) => resolve({ status: 0, bytes: 0, error: e.message }))
        req.end()
      })
      expect(got.status).toBe(200)
      expect(got.error).toBeDefined()
      expect(got.bytes).toBeLessThan(layer.bytes.byteLength)
    } finally {
      await liar.close()
    }
    expect(log.some((e) => e.outcome === 'cut' && /content digest is/.test(e.error ?? ''))).toBe(true)
  })
})

describe('registry serve: stopping', () => {
  it('drains a request in flight: close() waits for it to finish, whole', async () => {
    let release!: () => void
    const gate = new Promise<void>((r) => { release = r })
    let started!: () => void
    const streaming = new Promise<void>((r) => { started = r })
    const slow = await start({
      read: async function* () {
        yield layer.bytes.subarray(0, 1000)
        started()
        await gate
        yield layer.bytes.subarray(1000)
      },
    })
    const res = fetch(`${slow.url}/v2/ipfs/${root}/blobs/${layer.desc.digest}`).then(async (r) => Buffer.from(await r.arrayBuffer()))
    await streaming
    let closed = false
    const closing = slow.close().then(() => { closed = true })
    await new Promise((r) => setImmediate(r))
    expect(closed).toBe(false)
    release()
    expect((await res).equals(layer.bytes)).toBe(true)
    await closing
    expect(closed).toBe(true)
  })

})

describe('registry serve: names follow their IPNS records', () => {
  it("keeps a name's root as long as its IPNS record's TTL says, and no longer", async () => {
    const other = new MemoryImage()
    const config = other.putJson(MediaType.OciConfig, { architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] } })
    other.rootDesc = other.putJson(MediaType.OciManifest, { schemaVersion: 2, mediaType: MediaType.OciManifest, config, layers: [] })
    const second = await pushImage(other, ipfs, { platforms: { all: true } })
    const ipns = await ipfs.ipns()
    const digestOf = async (repoTag: string): Promise<string | null> => {
      const [repo, tag] = repoTag.split(':') as [string, string]
      return (await get(`/v2/${repo}/manifests/${tag}`, { method: 'HEAD' })).headers.get('docker-content-digest')
    }
    // A record with a 60 s TTL: republished elsewhere, the old root is still served (30 s was the fixed cache time).
    await ipns.publish(parseCid(root), { ref: 'ceo.test/org/long:1', lifetimeMs: 3_600_000, ttlMs: 60_000 })
    expect(await digestOf('ceo.test/org/long:1')).toBe(index.digest)
    await ipns.publish(parseCid(second.rootCid), { ref: 'ceo.test/org/long:1', lifetimeMs: 3_600_000, ttlMs: 60_000 })
    expect(await digestOf('ceo.test/org/long:1')).toBe(index.digest)
    // A record with a 1 ms TTL is asked again on the next request and the new root is served.
    await ipns.publish(parseCid(root), { ref: 'ceo.test/org/short:1', lifetimeMs: 3_600_000, ttlMs: 1 })
    expect(await digestOf('ceo.test/org/short:1')).toBe(index.digest)
    await ipns.publish(parseCid(second.rootCid), { ref: 'ceo.test/org/short:1', lifetimeMs: 3_600_000, ttlMs: 1 })
    expect(await digestOf('ceo.test/org/short:1')).toBe(second.root.digest)
  })
})

describe('a resolve that hangs', () => {
  it('is a 404 after the timeout, and the digest lookup of the same pull is a 404 without asking IPNS again', async () => {
    let asked = 0
    const hanging = {
      description: 'hanging', add: ipfs.add.bind(ipfs), cat: ipfs.cat.bind(ipfs), close: async () => undefined,
      ipns: async () => ({
        publish: () => Promise.reject(new Error('not here')), expiry: async () => undefined, ttl: async () => undefined,
        // As a kubo whose peers stopped answering: nothing until the caller gives up.
        resolve: (_name: string, o?: { signal?: AbortSignal }) => {
          asked++
          return new Promise<never>((_, reject) => o?.signal?.addEventListener('abort', () => reject(o.signal?.reason)))
        },
      }),
    }
    const catalog = new ImageCatalog(hanging, { resolveTimeoutMs: 300 })
    const repo = { kind: 'ref', name: 'org/nowhere', base: 'ceo.test/org/nowhere' } as const
    const t0 = performance.now()
    await expect(catalog.manifest(repo, { kind: 'tag', tag: '1' })).rejects.toMatchObject({ code: 'MANIFEST_UNKNOWN' })
    expect(performance.now() - t0).toBeGreaterThanOrEqual(290) // it waited for the timeout, not less
    expect(asked).toBe(1)
    // containerd resolved the tag upstream and now asks each host for the manifest by digest.
    await expect(catalog.manifest(repo, { kind: 'digest', digest: sha256Digest('upstream manifest') })).rejects.toMatchObject({ code: 'MANIFEST_UNKNOWN' })
    expect(asked).toBe(1)
  })
})
