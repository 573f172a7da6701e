import { describe, expect, it } from 'vitest'
import { mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { PushHistory, type PushRecord } from '../../src/ipfs/history.js'
import { LockTimeoutError, withFileLock } from '../../src/util/file-lock.js'
import { isRunning, selfIdentity } from '../../src/util/process-identity.js'

const entry = (ref: string): PushRecord => ({ ref, root: `root-${ref}`, backend: 'embedded', pushedAt: '2026-12-04T00:00:00Z' })

describe('file lock and the lists under IPCR_ROOT', () => {
  it('keeps every entry when many records are written at once', async () => {
    const root = await mkdtemp(join(tmpdir(), 'ipcr-lock-'))
    const history = new PushHistory(root)
    const refs = Array.from({ length: 24 }, (_, i) => `example.test/app-${i}:1`)
    await Promise.all(refs.map((ref) => history.record(entry(ref))))
    expect((await history.list()).map((e) => e.ref).sort()).toEqual([...refs].sort())
    // Nothing of the lock is left beside the list.
    expect(await readdir(root)).toEqual(['pushes.json'])
  })

  it('breaks a lock whose owner is gone, and waits for one whose owner runs', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ipcr-lock-'))
    const path = join(dir, 'list.json')
    // A pid beyond pid_max never runs: the lock of a process killed while it held it.
    await writeFile(`${path}.lock`, '4194305-1')
    expect(isRunning('4194305-1')).toBe(false)
    expect(await withFileLock(path, async () => 'taken')).toBe('taken')
    expect(await readdir(dir)).toEqual([])

    // Held by a live process (this one, under another name): the waiter times out naming the owner.
    expect(isRunning(selfIdentity())).toBe(true)
    await writeFile(`${path}.lock`, selfIdentity())
    const waited = withFileLock(path, async () => 'never', { timeoutMs: 200 })
    await expect(waited).rejects.toBeInstanceOf(LockTimeoutError)
    await expect(waited).rejects.toThrow(`held by process ${process.pid}`)
    expect(await readFile(`${path}.lock`, 'utf8')).toBe(selfIdentity())
  })

  it('a recycled pid with another start time is not the owner', () => {
    const [pid] = selfIdentity().split('-')
    expect(isRunning(`${pid}-1`)).toBe(false)
    expect(isRunning('not-an-identity')).toBe(false)
  })
})
