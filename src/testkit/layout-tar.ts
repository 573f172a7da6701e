/**
 * An OCI layout packed as one tar, the form `ctr images import` reads (it finds index.json and
 * blobs/ by name inside the archive). Entries are sorted and blobs streamed from disk.
 */
import { createReadStream, createWriteStream } from 'node:fs'
import { readdir, rename, rm, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { finished } from 'node:stream/promises'
import { tempNameFor } from './atomic.js'
import { OCI_LAYOUT_FILE } from './layout.js'
import { writeTar, type TarEntry } from './tar.js'

const BLOB_NAME = /^[a-f0-9]{64}$/

async function fileEntry(archivePath: string, diskPath: string): Promise<TarEntry> {
  const { size } = await stat(diskPath)
  return { path: archivePath, type: 'file', source: { size, open: () => createReadStream(diskPath) } }
}

export async function tarLayout(layoutDir: string, tarPath: string): Promise<void> {
  const entries: TarEntry[] = [
    await fileEntry(OCI_LAYOUT_FILE, join(layoutDir, OCI_LAYOUT_FILE)),
    await fileEntry('index.json', join(layoutDir, 'index.json')),
  ]
  // Only finished blobs: a leftover temp file from an interrupted write is not content.
  for (const name of (await readdir(join(layoutDir, 'blobs', 'sha256'))).filter((n) => BLOB_NAME.test(n))) {
    entries.push(await fileEntry(`blobs/sha256/${name}`, join(layoutDir, 'blobs', 'sha256', name)))
  }
  await writeTarFile(entries, tarPath)
}

/** writeTar into a temp file renamed over `tarPath` when complete. */
export async function writeTarFile(entries: TarEntry[], tarPath: string): Promise<void> {
  const tmp = tempNameFor(tarPath)
  const out = createWriteStream(tmp)
  try {
    await writeTar(entries, out)
    out.end()
    await finished(out)
    await rename(tmp, tarPath)
  } catch (err) {
    out.destroy()
    await rm(tmp, { force: true })
    throw err
  }
}
