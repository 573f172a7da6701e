// Upload sessions (src/registry/storage/uploads.ts): a chunk that fails part-way is taken back,
// a session untouched past its TTL is gone with its bytes, and one resumed by a new process
// (its hash state lost, as after kill -9 and a restart) still commits the right digest; the live
// add that feeds chunks to IPFS as they arrive is given up whenever its bytes could be wrong.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { mkdtemp, readdir, rm, utimes } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { sha256Digest } from '../../src/oci/digest.js'
import { RegistryError } from '../../src/registry/errors.js'
import { UploadArea } from '../../src/registry/storage/uploads.js'
import { LiveAdds } from '../../src/registry/storage/live-add.js'
import { cidOf } from '../../src/ipfs/cid.js'

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

/** A StartAdd that reads its feed as IPFS would and answers with the CID our importer gives. */
function recordingAdds(o: { max: number; idleMs: number; maxQueued: number } = { max: 8, idleMs: 60_000, maxQueued: 1 << 20 }) {
  const fed: Array<{ bytes: Buffer[]; outcome: 'open' | 'done' | 'failed' }> = []
  const adds = new LiveAdds(async (feed) => {
    const rec = { bytes: [] as Buffer[], outcome: 'open' as 'open' | 'done' | 'failed' }
    fed.push(rec)
    try {
      for await (const chunk of feed) rec.bytes.push(Buffer.from(chunk))
      rec.outcome = 'done'
      return await cidOf(chunks(Buffer.concat(rec.bytes).toString()))
    } catch (err) {
      rec.outcome = 'failed'
      throw err
    }
  }, o)
  return { adds, fed }
}

describe('live adds: chunks go to IPFS as they arrive', () => {
  it('feeds every chunk of every request to one add, whose CID the commit gets', async () => {
    const { adds, fed } = recordingAdds()
    const area = new UploadArea(join(dir, 'live'), { ttlMs: 60_000, maxBlobSize: 1 << 20, liveAdds: adds })
    let s = await area.start('org/app')
    s = await area.append(s, chunks('hello ', 'big '))
    s = await area.append(s, chunks('world'), { start: 10 })
    const cid = await area.added(s)
    expect(cid?.toString()).toBe((await cidOf(chunks('hello big world'))).toString())
    expect(fed).toHaveLength(1)
    expect(Buffer.concat(fed[0]?.bytes ?? []).toString()).toBe('hello big world')
  })

  it('gives up the add of a chunk that failed part-way, so the commit adds the spool instead', async () => {
    const { adds, fed } = recordingAdds()
    const area = new UploadArea(join(dir, 'live-fail'), { ttlMs: 60_000, maxBlobSize: 1 << 20, liveAdds: adds })
    let s = await area.start('org/app')
    s = await area.append(s, chunks('hello '))
    await expect(area.append(s, failingAfter('half'))).rejects.toThrow(/went away/)
    s = await area.append(await area.get('org/app', s.id), chunks('world'), { start: 6 })
    expect(area.added(s)).toBeUndefined()
    await new Promise((r) => setImmediate(r))
    expect(fed[0]?.outcome).toBe('failed') // an add that ended early would have made a shorter file
    expect(await area.digest(s)).toBe(sha256Digest('hello world'))
  })

  it('stops the add of a removed session, holds at most `max` open, and gives up an idle one', async () => {
    const { adds, fed } = recordingAdds({ max: 2, idleMs: 50, maxQueued: 1 << 20 })
    const area = new UploadArea(join(dir, 'live-max'), { ttlMs: 60_000, maxBlobSize: 1 << 20, liveAdds: adds })
    const a = await area.append(await area.start('org/app'), chunks('a'))
    const b = await area.append(await area.start('org/app'), chunks('b'))
    const c = await area.append(await area.start('org/app'), chunks('c')) // beyond max: no add
    expect(fed).toHaveLength(2)
    expect(area.added(c)).toBeUndefined()
    await area.remove(a.id)
    await new Promise((r) => setTimeout(r, 120)) // b is fed nothing past idleMs
    expect(fed.map((f) => f.outcome)).toEqual(['failed', 'failed'])
    expect(area.added(b)).toBeUndefined()
    // Both slots are free again.
    await area.start('org/app')
    await area.start('org/app')
    expect(fed).toHaveLength(4)
  })
})
