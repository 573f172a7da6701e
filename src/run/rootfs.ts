import { execFile } from 'node:child_process'
import { lstat, mkdtemp, readFile, readlink, rmdir } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, posix } from 'node:path'
import { promisify } from 'node:util'
import type { Mount } from '../containerd/wire.js'
import { UnavailableError } from '../errors.js'
import type { ReadRootFile } from './user.js'

const run = promisify(execFile)

/**
 * Read files of a snapshot's root filesystem from its mounts without mounting them when the layers
 * are plain directories on this host: an overlay's upperdir and lowerdirs are searched top-down
 * (a whiteout hides what lies below), a bind mount is its source. The stargz snapshotter's layers
 * are FUSE mounts on this host, so the same holds for it. Any other mount type is mounted read-only
 * in a temporary directory for the duration of `use`, as containerd's WithTempMount does.
 */
export async function withRootFiles<T>(mounts: readonly Mount[], use: (read: ReadRootFile) => Promise<T>): Promise<T> {
  const layers = layerDirs(mounts)
  if (layers !== undefined) return use((path) => readFromLayers(layers, path))
  const dir = await mkdtemp(join(tmpdir(), 'ipcr-rootfs-'))
  let mounted = 0
  try {
    for (const m of mounts) {
      const options = m.type === 'overlay' || m.type === 'bind' ? [...m.options, 'ro'] : m.options
      await run('mount', ['-t', m.type, ...(options.length > 0 ? ['-o', options.join(',')] : []), m.source, dir])
        .catch((err: Error) => { throw new UnavailableError(`cannot mount the container's rootfs to read its users: ${err.message.trim()}`, { cause: err }) })
      mounted++
    }
    return await use((path) => readFromLayers([dir], path))
  } finally {
    for (; mounted > 0; mounted--) await run('umount', [dir]).catch(() => run('umount', ['-l', dir]).catch(() => undefined))
    await rmdir(dir).catch(() => undefined)
  }
}

/** The directories of a one-mount overlay or bind rootfs, topmost first; undefined for anything else. */
export function layerDirs(mounts: readonly Mount[]): string[] | undefined {
  if (mounts.length !== 1) return undefined
  const m = mounts[0] as Mount
  if (m.type === 'bind' || m.type === 'rbind') return [m.source]
  if (m.type !== 'overlay') return undefined
  const opt = (key: string) => m.options.find((o) => o.startsWith(`${key}=`))?.slice(key.length + 1)
  const lower = opt('lowerdir')
  if (lower === undefined) return undefined
  const upper = opt('upperdir')
  return [...(upper ? [upper] : []), ...lower.split(':').filter(Boolean)]
}

/** A whiteout: overlayfs's 0:0 character device, or the OCI `.wh.` file that a snapshotter may leave. */
async function hidden(dir: string, path: string): Promise<boolean> {
  const st = await lstat(join(dir, path)).catch(() => undefined)
  if (st?.isCharacterDevice() && st.rdev === 0) return true
  const wh = await lstat(join(dir, posix.dirname(path), `.wh.${posix.basename(path)}`)).catch(() => undefined)
  return wh !== undefined
}

/**
 * Look `path` up as the merged filesystem would show it: the first layer holding it wins, a whiteout
 * of it or of a parent directory hides it. Symbolic links are followed inside the rootfs.
 */
export async function readFromLayers(layers: readonly string[], path: string, depth = 0): Promise<string | undefined> {
  const clean = posix.normalize(`/${path}`)
  const parents = clean.split('/').filter(Boolean).slice(0, -1).map((_, i, all) => `/${all.slice(0, i + 1).join('/')}`)
  for (const dir of layers) {
    const st = await lstat(join(dir, clean)).catch(() => undefined)
    if (st === undefined) {
      for (const p of [...parents, clean]) if (await hidden(dir, p)) return undefined
      continue
    }
    if (st.isSymbolicLink()) {
      if (depth > 16) return undefined
      const target = await readlink(join(dir, clean))
      return readFromLayers(layers, posix.isAbsolute(target) ? target : posix.join(posix.dirname(clean), target), depth + 1)
    }
    if (!st.isFile()) return undefined
    return readFile(join(dir, clean), 'utf8')
  }
  return undefined
}
