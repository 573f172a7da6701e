// Upload sessions (src/registry/storage/uploads.ts): a chunk that fails part-way is taken back,
// a session untouched past its TTL is gone with its bytes, and one resumed by a new process
// (its hash state lost, as after kill -9 and a restart) still commits the right digest.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { mkdtemp, readdir, readFile, rm, utimes } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { sha256Digest } from '../../src/oci/digest.js'
import { RegistryError } from '../../src/registry/errors.js'
import { UploadArea } from '../../src/registry/storage/uploads.js'

let dir: string
beforeAll(async () => { dir = await mkdtemp(join(tmpdir(), 'ipcr-uploads-')) })
afterAll(async () => { await rm(dir, { recursive: true, force: true }) })

async function* chunks(...parts: string[]): AsyncGenerator<Uint8Array> {
  for (const p of parts) yield Buffer.from(p)
}

async function* failingAfter(part: string): AsyncGenerator<Uint8Array> {
  yield Buffer.from(part)
  throw new Error('the client went away')
}

describe('upload sessions', () => {
  it('takes back a chunk that failed part-way, and resumes after a restart with the right digest', async () => {
    const area = new UploadArea(join(dir, 'a'), { ttlMs: 60_000, maxBlobSize: 1 << 20 })
    let s = await area.start('org/app')
    s = await area.append(s, chunks('hello '))
    await expect(area.append(s, failingAfter('half a chunk'))).rejects.toThrow(/went away/)
    expect((await area.get('org/app', s.id)).offset).toBe(6)
    // A new process: no hash state, the bytes on disk are hashed again.
    const restarted = new UploadArea(join(dir, 'a'), { ttlMs: 60_000, maxBlobSize: 1 << 20 })
    let again = await restarted.get('org/app', s.id)
    again = await restarted.append(again, chunks('world'), { start: 6 })
    expect(await restarted.digest(again)).toBe(sha256Digest('hello world'))
    await expect(restarted.get('org/other', s.id)).rejects.toThrow(RegistryError)
  })

  it('keeps every byte of a body larger than a write batch, and takes all of it back when it fails late', async () => {
    const area = new UploadArea(join(dir, 'd'), { ttlMs: 60_000, maxBlobSize: 8 << 20 })
    const parts = Array.from({ length: 50 }, (_, i) => Buffer.alloc(65_536 + i, i)) // 3.2 MiB in odd sizes
    async function* body(fail: boolean): AsyncGenerator<Uint8Array> {
      for (const p of parts) yield p
      if (fail) throw new Error('the client went away')
    }
    let s = await area.start('org/app')
    s = await area.append(s, chunks('head'))
    await expect(area.append(s, body(true))).rejects.toThrow(/went away/)
    expect((await area.get('org/app', s.id)).offset).toBe(4)
    s = await area.append(s, body(false))
    const whole = Buffer.concat([Buffer.from('head'), ...parts])
    expect(s.offset).toBe(whole.length)
    expect(await readFile(join(dir, 'd', s.id, 'data'))).toEqual(whole)
    expect(await area.digest(s)).toBe(sha256Digest(whole))
  })

  it('forgets a session untouched past its TTL, bytes and all', async () => {
    const area = new UploadArea(join(dir, 'b'), { ttlMs: 60_000, maxBlobSize: 1 << 20 })
    const s = await area.start('org/app')
    await area.append(s, chunks('stale'))
    const old = new Date(Date.now() - 120_000)
    await utimes(join(dir, 'b', s.id, 'data'), old, old)
    const fresh = await area.start('org/app')
    expect(await area.sweep()).toBe(1)
    expect(await readdir(join(dir, 'b'))).toEqual([fresh.id])
    await expect(area.get('org/app', s.id)).rejects.toMatchObject({ code: 'BLOB_UPLOAD_UNKNOWN' })
  })

  it('refuses a blob past the size limit without keeping its bytes', async () => {
    const area = new UploadArea(join(dir, 'c'), { ttlMs: 60_000, maxBlobSize: 8 })
    const s = await area.start('org/app')
    await expect(area.append(s, chunks('0123', '456789'))).rejects.toMatchObject({ code: 'SIZE_INVALID' })
    expect((await area.get('org/app', s.id)).offset).toBe(0)
  })
})
