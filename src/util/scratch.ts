import { rmSync } from 'node:fs'
import { mkdir, mkdtemp, readdir, rm } from 'node:fs/promises'
import { homedir } from 'node:os'
import { join } from 'node:path'
import { isRunning, selfIdentity } from './process-identity.js'

/**
 * Scratch space for work too large for memory (a layer spooled for conversion): one directory per
 * process under scratchRoot(), named by the process's identity. It is removed when the process
 * exits, on an interrupt too (cli/interrupt.ts exits through process.exit), and the next run
 * removes the directories of processes that are gone (kill -9, a crash, a power cut): scratch
 * never piles up as the `ipcr-convert-*` directories in /tmp did.
 */

/** `$IPCR_ROOT/scratch` when IPCR_ROOT is set, else `$XDG_CACHE_HOME/ipcr/scratch` (`~/.cache/ipcr/scratch`). */
export function scratchRoot(env: NodeJS.ProcessEnv = process.env): string {
  if (env.IPCR_ROOT) return join(env.IPCR_ROOT, 'scratch')
  return join(env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'ipcr', 'scratch')
}

let own: Promise<string> | undefined
let ownPath: string | undefined

/** This process's scratch directory, made (after a sweep of dead runs' directories) on first use. */
export function processScratch(env: NodeJS.ProcessEnv = process.env): Promise<string> {
  own ??= (async () => {
    const root = scratchRoot(env)
    await mkdir(root, { recursive: true })
    await sweepScratch(root)
    const dir = join(root, selfIdentity())
    await mkdir(dir, { recursive: true })
    ownPath = dir
    process.once('exit', removeProcessScratch)
    return dir
  })()
  return own
}

/** A fresh directory inside this process's scratch; `remove` deletes it (and may be called twice). */
export async function scratchDir(prefix: string): Promise<{ path: string; remove(): Promise<void> }> {
  const path = await mkdtemp(join(await processScratch(), `${prefix}-`))
  return { path, remove: () => rm(path, { recursive: true, force: true }) }
}

/** Remove this process's scratch now, synchronously: for exit and signal handlers. */
export function removeProcessScratch(): void {
  if (ownPath === undefined) return
  try { rmSync(ownPath, { recursive: true, force: true }) } catch { /* exiting anyway */ }
}

/** Remove the scratch directories of processes that no longer run; returns their names. */
export async function sweepScratch(root: string = scratchRoot()): Promise<string[]> {
  const entries = await readdir(root).catch(() => [] as string[])
  const dead = entries.filter((name) => /^\d+-\d+$/.test(name) && name !== selfIdentity() && !isRunning(name))
  await Promise.all(dead.map((name) => rm(join(root, name), { recursive: true, force: true })))
  return dead
}
