import { execFile } from 'node:child_process'
import { constants, openSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { UnavailableError } from '../errors.js'

/** The task's stdio FIFOs ("" for a stream the task does not get), in a private directory. */
export interface FifoSet { dir: string; stdin: string; stdout: string; stderr: string }

/**
 * Make the FIFOs the runc shim opens for the task's stdio, as containerd's cio.NewFIFOSetInDir:
 * `<dir>/<id>-stdin` and so on, mode 0600, in a new directory under the temp dir.
 * Node has no mkfifo(3), so mkfifo(1) makes them, one process for all.
 */
export async function makeFifos(id: string, want: { stdin: boolean; stdout: boolean; stderr: boolean }): Promise<FifoSet> {
  const dir = await mkdtemp(join(tmpdir(), 'ipcr-fifo-'))
  const set: FifoSet = {
    dir,
    stdin: want.stdin ? join(dir, `${id}-stdin`) : '',
    stdout: want.stdout ? join(dir, `${id}-stdout`) : '',
    stderr: want.stderr ? join(dir, `${id}-stderr`) : '',
  }
  const paths = [set.stdin, set.stdout, set.stderr].filter(Boolean)
  try {
    if (paths.length > 0) {
      await new Promise<void>((resolve, reject) => execFile('mkfifo', ['-m', '600', ...paths], (err) => (err ? reject(err) : resolve())))
    }
  } catch (err) {
    await rm(dir, { recursive: true, force: true })
    throw new UnavailableError(`cannot make the task's stdio FIFOs with mkfifo: ${(err as Error).message.trim()}`, { cause: err })
  }
  return set
}

export async function removeFifos(set: FifoSet): Promise<void> {
  await rm(set.dir, { recursive: true, force: true })
}

/**
 * The reading end of a FIFO as a stream. Opened non-blocking, so it succeeds before the shim opens
 * the writing end; EOF comes once the shim has opened and closed it.
 */
export function fifoReader(path: string): Socket {
  const fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK)
  return new Socket({ fd, readable: true, writable: false })
}

/** The writing end of a FIFO whose reader (the shim) is already open. */
export function fifoWriter(path: string): Socket {
  const fd = openSync(path, constants.O_WRONLY | constants.O_NONBLOCK)
  return new Socket({ fd, readable: false, writable: true })
}
