// The registry's write side in process over the embedded store: uploads (monolithic, chunked, in
// order or refused), commits that check digests, manifest PUT (blobs checked, bytes kept as
// pushed, the IPFS-enabled image made and published), referrers, deletes and their tombstones.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import bcrypt from 'bcryptjs'
import { mkdtemp, readdir, writeFile } from 'node:fs/promises'
import { request } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseCid } from '../../src/ipfs/cid.js'
import { EmbeddedIpfs } from '../../src/ipfs/embedded.js'
import { ipnsNameForRef } from '../../src/ipfs/ipns-key.js'
import { IpfsImageSource } from '../../src/stores/ipfs.js'
import { sha256Digest } from '../../src/oci/digest.js'
import { MediaType } from '../../src/oci/media-types.js'
import { startRegistry } from '../../src/registry/start.js'
import { loadWriteGate } from '../../src/registry/write-gate.js'
import { gzipDeterministic } from '../../src/testkit/gzip.js'
import { tarBuffer } from '../../src/testkit/tar.js'
import { bundledEstargzWorker } from '../support/estargz-worker.js'

let dir: string
let ipfs: EmbeddedIpfs
let server: Awaited<ReturnType<typeof startRegistry>>
let base: string

const layer = Buffer.from('a layer that is not a tar, which no read of this test needs to be')
const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [sha256Digest('x')] } }))
const manifestOf = (layers: Buffer[], extra: Record<string, unknown> = {}): Buffer => Buffer.from(JSON.stringify({
  schemaVersion: 2, mediaType: MediaType.OciManifest,
  config: { mediaType: MediaType.OciConfig, digest: sha256Digest(config), size: config.length },
  layers: layers.map((l) => ({ mediaType: MediaType.OciLayerGzip, digest: sha256Digest(l), size: l.length })),
  ...extra,
}))

async function req(method: string, path: string, body?: Buffer, headers: Record<string, string> = {}): Promise<{ status: number; headers: Headers; body: Buffer }> {
  const r = await fetch(`${base}${path}`, { method, headers, ...(body ? { body } : {}) })
  return { status: r.status, headers: r.headers, body: Buffer.from(await r.arrayBuffer()) }
}

async function pushBlob(repo: string, bytes: Buffer): Promise<void> {
  const r = await req('POST', `/v2/${repo}/blobs/uploads/?digest=${sha256Digest(bytes)}`, bytes, { 'content-type': 'application/octet-stream' })
  expect(r.status, r.body.toString()).toBe(201)
}

function errorCode(body: Buffer): string | undefined {
  return (JSON.parse(body.toString()) as { errors: Array<{ code: string }> }).errors[0]?.code
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ipcr-registry-push-'))
  ipfs = new EmbeddedIpfs(join(dir, 'ipfs'))
  server = await startRegistry(ipfs, {
    host: '127.0.0.1', port: 0, resolveTimeoutMs: 1000, storageDir: join(dir, 'registry'), env: { IPCR_ROOT: dir },
    push: { allowDelete: true, uploadTtlMs: 3_600_000, estargz: false, lifetimeMs: 3_600_000, ttlMs: 60_000 },
  })
  base = server.url
})

afterAll(async () => {
  await server.close()
  await ipfs.close()
})

describe('blob uploads', () => {
  it('takes chunks in order, reports where it stands, and commits only a matching digest', async () => {
    const bytes = Buffer.from('0123456789abcdefghij')
    const started = await req('POST', '/v2/org/app/blobs/uploads/')
    expect(started.status).toBe(202)
    const location = started.headers.get('location') as string
    expect(location).toMatch(/^\/v2\/org\/app\/blobs\/uploads\/[0-9a-f-]{36}$/)
    expect(started.headers.get('range')).toBe('0-0')
    const first = await req('PATCH', location, bytes.subarray(0, 10), { 'content-range': '0-9', 'content-type': 'application/octet-stream' })
    expect(first.status).toBe(202)
    expect(first.headers.get('range')).toBe('0-9')
    // A chunk that does not start where the upload stands is refused, and changes nothing.
    const skipped = await req('PATCH', location, bytes.subarray(15), { 'content-range': '15-19' })
    expect(skipped.status).toBe(416)
    expect((await req('GET', location)).headers.get('range')).toBe('0-9')
    const second = await req('PATCH', location, bytes.subarray(10), { 'content-range': '10-19' })
    expect(second.headers.get('range')).toBe('0-19')
    expect((await req('HEAD', `/v2/org/app/blobs/${sha256Digest(bytes)}`)).status).toBe(404)
    const done = await req('PUT', `${location}?digest=${sha256Digest(bytes)}`)
    expect(done.status).toBe(201)
    expect(done.headers.get('docker-content-digest')).toBe(sha256Digest(bytes))
    const got = await req('GET', `/v2/org/app/blobs/${sha256Digest(bytes)}`)
    expect(got.body.equals(bytes)).toBe(true)
    const metrics = (await req('GET', '/metrics')).body.toString()
    expect(Number(/^ipcr_registry_bytes_received_total\{route="upload"\} (\d+)$/m.exec(metrics)?.[1])).toBeGreaterThanOrEqual(bytes.length)
    expect((await req('GET', location)).status).toBe(404) // the session is over
  })

  it('keeps nothing when the bytes do not match the digest', async () => {
    const bytes = Buffer.from('these bytes')
    const lie = sha256Digest('other bytes')
    const r = await req('POST', `/v2/org/app/blobs/uploads/?digest=${lie}`, bytes)
    expect(r.status).toBe(400)
    expect(errorCode(r.body)).toBe('DIGEST_INVALID')
    expect((await req('HEAD', `/v2/org/app/blobs/${lie}`)).status).toBe(404)
    expect((await req('HEAD', `/v2/org/app/blobs/${sha256Digest(bytes)}`)).status).toBe(404)
    expect(await readdir(join(dir, 'registry', 'uploads'))).toEqual([])
  })

  it('mounts a blob from a repository that holds it, and starts an upload when it does not', async () => {
    await pushBlob('org/app', layer)
    const mounted = await req('POST', `/v2/org/other/blobs/uploads/?mount=${sha256Digest(layer)}&from=org/app`)
    expect(mounted.status).toBe(201)
    expect((await req('HEAD', `/v2/org/other/blobs/${sha256Digest(layer)}`)).status).toBe(200)
    const missing = await req('POST', `/v2/org/other/blobs/uploads/?mount=${sha256Digest('nowhere')}&from=org/app`)
    expect(missing.status).toBe(202)
  })

  it('refuses pushes to ipfs/<CID> and malformed names', async () => {
    const cid = 'bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku'
    const r = await req('POST', `/v2/ipfs/${cid}/blobs/uploads/`)
    expect(r.status).toBe(403)
    expect(errorCode(r.body)).toBe('DENIED')
    expect((await req('POST', '/v2/Org/App/blobs/uploads/')).status).toBe(400)
  })
})

describe('manifests', () => {
  it('refuses a manifest naming a blob never uploaded', async () => {
    const m = manifestOf([Buffer.from('never uploaded')])
    await pushBlob('org/app', config)
    const r = await req('PUT', '/v2/org/app/manifests/broken', m, { 'content-type': MediaType.OciManifest })
    expect(r.status).toBe(404)
    expect(errorCode(r.body)).toBe('MANIFEST_BLOB_UNKNOWN')
    expect((await req('GET', '/v2/org/app/manifests/broken')).status).toBe(404)
  })

  it('keeps a tag push as pushed and publishes the IPFS-enabled image under R:T', async () => {
    await pushBlob('org/app', config)
    await pushBlob('org/app', layer)
    const m = manifestOf([layer])
    const r = await req('PUT', '/v2/org/app/manifests/1', m, { 'content-type': MediaType.OciManifest })
    expect(r.status, r.body.toString()).toBe(201)
    expect(r.headers.get('docker-content-digest')).toBe(sha256Digest(m))
    const root = r.headers.get('ipcr-root-cid') as string
    expect(root).toMatch(/^baf/)
    const got = await req('GET', '/v2/org/app/manifests/1')
    expect(got.body.equals(m)).toBe(true)
    expect(got.headers.get('content-type')).toBe(MediaType.OciManifest)
    expect((await req('GET', `/v2/org/app/manifests/${sha256Digest(m)}`)).body.equals(m)).toBe(true)
    // IPNS names the root; the image there has every descriptor with its ipfs:// URL.
    const resolved = await (await ipfs.ipns()).resolve(ipnsNameForRef('org/app:1'))
    expect(resolved.toString()).toBe(root)
    const image = new IpfsImageSource(parseCid(root), ipfs)
    const rootDesc = await image.root()
    expect(rootDesc.urls?.[0]).toMatch(/^ipfs:\/\//)
    const tags = JSON.parse((await req('GET', '/v2/org/app/tags/list')).body.toString()) as { tags: string[] }
    expect(tags.tags).toContain('1')
  })

  it('lists referrers by subject, filtered by artifactType', async () => {
    const subject = manifestOf([layer])
    const empty = Buffer.from('{}')
    await pushBlob('org/app', empty)
    const artifact = Buffer.from(JSON.stringify({
      schemaVersion: 2, mediaType: MediaType.OciManifest, artifactType: 'application/vnd.example.sbom',
      config: { mediaType: 'application/vnd.oci.empty.v1+json', digest: sha256Digest(empty), size: 2 },
      layers: [{ mediaType: 'application/vnd.oci.empty.v1+json', digest: sha256Digest(empty), size: 2 }],
      subject: { mediaType: MediaType.OciManifest, digest: sha256Digest(subject), size: subject.length },
    }))
    const put = await req('PUT', `/v2/org/app/manifests/${sha256Digest(artifact)}`, artifact, { 'content-type': MediaType.OciManifest })
    expect(put.status, put.body.toString()).toBe(201)
    expect(put.headers.get('oci-subject')).toBe(sha256Digest(subject))
    const all = JSON.parse((await req('GET', `/v2/org/app/referrers/${sha256Digest(subject)}`)).body.toString()) as { manifests: Array<{ digest: string; artifactType: string }> }
    expect(all.manifests).toEqual([expect.objectContaining({ digest: sha256Digest(artifact), artifactType: 'application/vnd.example.sbom' })])
    const none = await req('GET', `/v2/org/app/referrers/${sha256Digest(subject)}?artifactType=application/other`)
    expect(none.headers.get('oci-filters-applied')).toBe('artifactType')
    expect((JSON.parse(none.body.toString()) as { manifests: unknown[] }).manifests).toEqual([])
  })

  it('deletes a tag for good, though IPNS still names its image', async () => {
    await pushBlob('org/app', config)
    await pushBlob('org/app', layer)
    const m = manifestOf([layer], { annotations: { n: '2' } })
    expect((await req('PUT', '/v2/org/app/manifests/2', m, { 'content-type': MediaType.OciManifest })).status).toBe(201)
    expect((await req('DELETE', '/v2/org/app/manifests/2')).status).toBe(202)
    const gone = await req('GET', '/v2/org/app/manifests/2')
    expect(gone.status).toBe(404)
    expect(errorCode(gone.body)).toBe('MANIFEST_UNKNOWN')
    const tags = JSON.parse((await req('GET', '/v2/org/app/tags/list')).body.toString()) as { tags: string[] }
    expect(tags.tags).not.toContain('2')
    expect((await req('DELETE', `/v2/org/app/manifests/${sha256Digest(m)}`)).status).toBe(202)
    expect((await req('GET', `/v2/org/app/manifests/${sha256Digest(m)}`)).status).toBe(404)
    expect((await req('DELETE', `/v2/org/app/blobs/${sha256Digest(layer)}`)).status).toBe(202)
    expect((await req('HEAD', `/v2/org/app/blobs/${sha256Digest(layer)}`)).status).toBe(404)
  })
})

describe('an index pushed with its manifests', () => {
  it('becomes one IPFS root holding every platform', async () => {
    await pushBlob('org/multi', config)
    await pushBlob('org/multi', layer)
    const amd = manifestOf([layer], { annotations: { arch: 'amd64' } })
    const arm = manifestOf([layer], { annotations: { arch: 'arm64' } })
    for (const m of [amd, arm]) expect((await req('PUT', `/v2/org/multi/manifests/${sha256Digest(m)}`, m, { 'content-type': MediaType.OciManifest })).status).toBe(201)
    const index = Buffer.from(JSON.stringify({
      schemaVersion: 2, mediaType: MediaType.OciIndex,
      manifests: [[amd, 'amd64'], [arm, 'arm64']].map(([m, arch]) => ({ mediaType: MediaType.OciManifest, digest: sha256Digest(m as Buffer), size: (m as Buffer).length, platform: { architecture: arch, os: 'linux' } })),
    }))
    const r = await req('PUT', '/v2/org/multi/manifests/1', index, { 'content-type': MediaType.OciIndex })
    expect(r.status, r.body.toString()).toBe(201)
    const image = new IpfsImageSource(parseCid(r.headers.get('ipcr-root-cid') as string), ipfs)
    const rootDesc = await image.root()
    expect(rootDesc.mediaType).toBe(MediaType.OciIndex)
    const chunks: Uint8Array[] = []
    for await (const c of image.blob(rootDesc)) chunks.push(c)
    const made = JSON.parse(Buffer.concat(chunks).toString()) as { manifests: Array<{ platform: { architecture: string }; urls: string[] }> }
    expect(made.manifests.map((m) => m.platform.architecture)).toEqual(['amd64', 'arm64'])
    for (const m of made.manifests) expect(m.urls[0]).toMatch(/^ipfs:\/\//)
  })
})

describe('who may push', () => {
  it('refuses an unauthenticated upload before its body is sent (Expect: 100-continue), and lets a user in', async () => {
    const htpasswd = join(dir, 'htpasswd')
    await writeFile(htpasswd, `pusher:${bcrypt.hashSync('secret', 4)}\n`)
    const gated = await startRegistry(ipfs, {
      host: '127.0.0.1', port: 0, resolveTimeoutMs: 1000, storageDir: join(dir, 'gated'), env: { IPCR_ROOT: dir },
      gate: await loadWriteGate({ allowPush: true, htpasswdFile: htpasswd, listenHost: '127.0.0.1', tls: false }),
      push: { allowDelete: false, uploadTtlMs: 3_600_000, estargz: false, lifetimeMs: 3_600_000, ttlMs: 60_000 },
    })
    const post = (auth?: string): Promise<{ status: number; continued: boolean; challenge?: string }> => new Promise((resolve, reject) => {
      const bytes = Buffer.from('held back until the gate says so')
      let continued = false
      const r = request(`${gated.url}/v2/org/gated/blobs/uploads/?digest=${sha256Digest(bytes)}`, {
        method: 'POST', headers: { expect: '100-continue', 'content-length': bytes.length, ...(auth ? { authorization: auth } : {}) },
      })
      r.on('continue', () => { continued = true; r.end(bytes) })
      r.on('response', (res) => {
        res.resume()
        res.on('end', () => resolve({ status: res.statusCode ?? 0, continued, ...(res.headers['www-authenticate'] ? { challenge: res.headers['www-authenticate'] } : {}) }))
        if (!continued) r.destroy()
      })
      r.on('error', (err) => { if (!continued) return; reject(err) })
      r.flushHeaders()
    })
    try {
      const refused = await post()
      expect(refused).toEqual({ status: 401, continued: false, challenge: 'Basic realm="ipcr"' })
      const wrong = await post(`Basic ${Buffer.from('pusher:wrong').toString('base64')}`)
      expect(wrong.status).toBe(401)
      expect(wrong.continued).toBe(false)
      const ok = await post(`Basic ${Buffer.from('pusher:secret').toString('base64')}`)
      expect(ok).toEqual({ status: 201, continued: true })
    } finally {
      await gated.close()
    }
  })
})

describe('--estargz', () => {
  it('converts the layers of the IPFS-enabled image and leaves the pushed bytes as pushed', async () => {
    const converting = await startRegistry(ipfs, {
      host: '127.0.0.1', port: 0, resolveTimeoutMs: 1000, storageDir: join(dir, 'esgz'), env: { IPCR_ROOT: dir },
      push: { allowDelete: false, uploadTtlMs: 3_600_000, estargz: {}, lifetimeMs: 3_600_000, ttlMs: 60_000, pool: { workerUrl: await bundledEstargzWorker(dir) } },
    })
    try {
      const tar = await tarBuffer([{ path: 'hello.txt', type: 'file', content: 'hello from a pushed layer\n' }])
      const gz = gzipDeterministic(tar)
      const cfg = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [sha256Digest(tar)] } }))
      for (const b of [gz, cfg]) {
        const r = await fetch(`${converting.url}/v2/org/esgz/blobs/uploads/?digest=${sha256Digest(b)}`, { method: 'POST', body: b })
        expect(r.status).toBe(201)
      }
      const m = Buffer.from(JSON.stringify({
        schemaVersion: 2, mediaType: MediaType.OciManifest,
        config: { mediaType: MediaType.OciConfig, digest: sha256Digest(cfg), size: cfg.length },
        layers: [{ mediaType: MediaType.OciLayerGzip, digest: sha256Digest(gz), size: gz.length }],
      }))
      const put = await fetch(`${converting.url}/v2/org/esgz/manifests/1`, { method: 'PUT', body: m, headers: { 'content-type': MediaType.OciManifest } })
      expect(put.status, await put.clone().text()).toBe(201)
      expect(Buffer.from(await (await fetch(`${converting.url}/v2/org/esgz/manifests/1`)).arrayBuffer()).equals(m)).toBe(true)
      const image = new IpfsImageSource(parseCid(put.headers.get('ipcr-root-cid') as string), ipfs)
      const chunks: Uint8Array[] = []
      for await (const c of image.blob(await image.root())) chunks.push(c)
      const made = JSON.parse(Buffer.concat(chunks).toString()) as { layers: Array<{ digest: string; annotations?: Record<string, string> }> }
      expect(made.layers[0]?.digest).not.toBe(sha256Digest(gz))
      expect(made.layers[0]?.annotations?.['containerd.io/snapshot/stargz/toc.digest']).toMatch(/^sha256:/)
    } finally {
      await converting.close()
    }
  })
})
