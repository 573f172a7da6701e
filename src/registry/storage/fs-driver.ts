import { readdir, readFile, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { writeFileAtomic } from '../../util/fs-util.js'
import type { StorageDriver } from './driver.js'

/** The driver on a local directory: every put is a temp file, fsync'd and renamed into place. */
export function fsDriver(root: string): StorageDriver {
  const at = (path: string): string => join(root, ...path.split('/'))
  return {
    get: (path) => readFile(at(path)).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT' || err.code === 'ENOTDIR') return undefined
      throw err
    }),
    put: (path, bytes) => writeFileAtomic(at(path), bytes),
    delete: (path) => rm(at(path), { recursive: true, force: true }),
    list: (dir) => readdir(at(dir)).then(
      (names) => names.filter((n) => !n.endsWith('.tmp')),
      (err: NodeJS.ErrnoException) => {
        if (err.code === 'ENOENT' || err.code === 'ENOTDIR') return []
        throw err
      },
    ),
  }
}
