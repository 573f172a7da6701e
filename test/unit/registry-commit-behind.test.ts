// A blob upload's commit is answered once its digest checks and its bytes are sealed, while the
// IPFS add runs on (PushedBlobs.accept): whatever asks after the blob waits for the add, a failed
// add is a 503 to the asker and leaves nothing, a restart finishes a sealed commit, and the
// server's close waits for the adds still running. Over the embedded store, its add held at a gate.
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { mkdtemp, readdir, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { IpfsBackend } from '../../src/ipfs/backend.js'
import { EmbeddedIpfs } from '../../src/ipfs/embedded.js'
import { sha256Digest } from '../../src/oci/digest.js'
import { startRegistry } from '../../src/registry/start.js'
import { UploadArea } from '../../src/registry/storage/uploads.js'

let dir: string
beforeEach(async () => { dir = await mkdtemp(join(tmpdir(), 'ipcr-commit-behind-')) })
afterEach(async () => { await rm(dir, { recursive: true, force: true }) })

/** The embedded store, its adds held until open() (or failed by fail()). */
function gatedStore(): { ipfs: IpfsBackend; open(): void; fail(err: Error): void; adds: () => number } {
  const store = new EmbeddedIpfs(join(dir, 'ipfs'))
  let release!: (err?: Error) => void
  const gate = new Promise<Error | undefined>((resolve) => { release = resolve })
  let adds = 0
  const ipfs: IpfsBackend = {
    description: 'gated embedded store',
    add: async (bytes) => {
      const chunks: Uint8Array[] = []
      for await (const c of bytes) chunks.push(c)
      const err = await gate
      if (err) throw err
      adds++
      return store.add((async function* () { yield* chunks })())
    },
    cat: (cid, o) => store.cat(cid, o),
    ipns: () => store.ipns(),
    close: () => store.close(),
  }
  return { ipfs, open: () => release(), fail: (err) => release(err), adds: () => adds }
}

const start = (ipfs: IpfsBackend) => startRegistry(ipfs, {
  host: '127.0.0.1', port: 0, resolveTimeoutMs: 1000, storageDir: join(dir, 'registry'), env: { IPCR_ROOT: dir },
  push: { allowDelete: true, uploadTtlMs: 3_600_000, estargz: false, lifetimeMs: 3_600_000, ttlMs: 60_000 },
})

async function req(base: string, method: string, path: string, body?: Buffer): Promise<{ status: number; body: string }> {
  const r = await fetch(`${base}${path}`, { method, ...(body ? { body, headers: { 'content-type': 'application/octet-stream' } } : {}) })
  return { status: r.status, body: await r.text() }
}

const blob = Buffer.from('the bytes of a blob whose add is slow')
const digest = sha256Digest(blob)
const uploadsDir = (): string => join(dir, 'registry', 'uploads')

describe('a commit answered before its IPFS add ends', () => {
  it('answers 201 at once; a HEAD of the blob waits for the add, then finds it', async () => {
    const g = gatedStore()
    const server = await start(g.ipfs)
    try {
      const put = await req(server.url, 'POST', `/v2/org/app/blobs/uploads/?digest=${digest}`, blob)
      expect(put.status).toBe(201)
      expect(g.adds()).toBe(0) // answered while the add is still held
      let headed = false
      const head = req(server.url, 'HEAD', `/v2/org/app/blobs/${digest}`).then((r) => { headed = true; return r })
      await new Promise((r) => setTimeout(r, 50))
      expect(headed, 'the HEAD waits for the add').toBe(false)
      g.open()
      expect((await head).status).toBe(200)
      expect((await req(server.url, 'GET', `/v2/org/app/blobs/${digest}`)).body).toBe(blob.toString())
      expect(await readdir(uploadsDir())).toEqual([]) // the spool went once the blob was kept
    } finally {
      g.open()
      await server.close()
    }
  })

  it('a failed add: 503 to whoever waits on it, then no blob and no spool, so the client uploads again', async () => {
    const g = gatedStore()
    const server = await start(g.ipfs)
    try {
      expect((await req(server.url, 'POST', `/v2/org/app/blobs/uploads/?digest=${digest}`, blob)).status).toBe(201)
      const head = req(server.url, 'GET', `/v2/org/app/blobs/${digest}`)
      g.fail(new Error('kubo went away'))
      const r = await head
      expect(r.status).toBe(503)
      expect(JSON.parse(r.body)).toMatchObject({ errors: [{ code: 'UNAVAILABLE', detail: `blob ${digest} was uploaded, but adding it to IPFS failed; upload it again` }] })
      expect((await req(server.url, 'HEAD', `/v2/org/app/blobs/${digest}`)).status).toBe(404)
      expect(await readdir(uploadsDir())).toEqual([])
    } finally {
      await server.close()
    }
  })

  it('close() waits for the adds still running', async () => {
    const g = gatedStore()
    const server = await start(g.ipfs)
    expect((await req(server.url, 'POST', `/v2/org/app/blobs/uploads/?digest=${digest}`, blob)).status).toBe(201)
    let closed = false
    const closing = server.close().then(() => { closed = true })
    await new Promise((r) => setTimeout(r, 50))
    expect(closed).toBe(false)
    g.open()
    await closing
    expect(g.adds()).toBe(1)
  })
})

describe('a restart with commits sealed but not added', () => {
  it('adds a sealed session whose bytes still match, and drops one whose bytes do not', async () => {
    const area = new UploadArea(uploadsDir(), { ttlMs: 3_600_000, maxBlobSize: 1 << 20 })
    const good = await area.append(await area.start('org/app'), (async function* () { yield blob })())
    await area.seal(good, digest)
    const other = Buffer.from('bytes sealed under a digest they do not have')
    const bad = await area.append(await area.start('org/app'), (async function* () { yield other })())
    await area.seal(bad, sha256Digest('something else'))
    // The sealed sessions are closed to clients.
    await expect(area.get('org/app', good.id)).rejects.toMatchObject({ code: 'BLOB_UPLOAD_UNKNOWN' })

    const g = gatedStore()
    g.open()
    const server = await start(g.ipfs)
    try {
      expect((await req(server.url, 'HEAD', `/v2/org/app/blobs/${digest}`)).status).toBe(200)
      expect((await req(server.url, 'HEAD', `/v2/org/app/blobs/${sha256Digest('something else')}`)).status).toBe(404)
      expect(g.adds()).toBe(1)
    } finally {
      await server.close()
    }
    expect(await readdir(uploadsDir())).toEqual([])
  })
})
