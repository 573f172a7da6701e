import { link, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises'
import { dirname } from 'node:path'
import { randomBytes } from 'node:crypto'
import { IpcrError } from '../errors.js'
import { isRunning, selfIdentity } from './process-identity.js'

/** Another process held a lock longer than we were willing to wait. */
export class LockTimeoutError extends IpcrError {}

export interface LockOptions {
  /** Give up after this long; default 30 s (the work under these locks takes milliseconds). */
  timeoutMs?: number
}

/**
 * Run `fn` while holding `<path>.lock`, a file naming its owner's process identity. The lock is
 * taken with link(2), which fails if the name exists, so two processes never both hold it. A lock
 * whose owner is gone (killed while holding it) is broken: moved aside under a unique name, and
 * put back if it turns out to have been taken meanwhile by a live process.
 */
export async function withFileLock<T>(path: string, fn: () => Promise<T>, o: LockOptions = {}): Promise<T> {
  const lock = `${path}.lock`
  const mine = `${lock}.${selfIdentity()}.${randomBytes(4).toString('hex')}`
  await mkdir(dirname(lock), { recursive: true })
  await writeFile(mine, selfIdentity())
  const deadline = Date.now() + (o.timeoutMs ?? 30_000)
  try {
    for (let wait = 2; ; wait = Math.min(wait * 2, 100)) {
      if (await tryLink(mine, lock)) break
      const owner = await readFile(lock, 'utf8').catch(() => undefined)
      if (owner !== undefined && !isRunning(owner)) {
        await breakStale(lock, owner)
        continue
      }
      if (Date.now() > deadline) {
        throw new LockTimeoutError(`${lock} is held by process ${owner?.split('-')[0] ?? '?'} (waited ${Math.round((o.timeoutMs ?? 30_000) / 1000)} s); if no ipcr runs, remove the file`)
      }
      await new Promise((resolve) => setTimeout(resolve, wait + Math.random() * wait))
    }
  } finally {
    await rm(mine, { force: true })
  }
  try {
    return await fn()
  } finally {
    await rm(lock, { force: true })
  }
}

async function tryLink(from: string, to: string): Promise<boolean> {
  try {
    await link(from, to)
    return true
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false
    throw err
  }
}

async function breakStale(lock: string, owner: string): Promise<void> {
  const aside = `${lock}.stale.${randomBytes(4).toString('hex')}`
  try {
    await rename(lock, aside)
  } catch {
    return // someone else broke it first
  }
  const moved = await readFile(aside, 'utf8').catch(() => owner)
  // A live process took the lock between our read and the rename: give it back.
  if (moved !== owner) await tryLink(aside, lock)
  await rm(aside, { force: true })
}
