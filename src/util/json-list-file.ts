import { readFile } from 'node:fs/promises'
import { writeFileAtomic } from './fs-util.js'
import { withFileLock } from './file-lock.js'

/**
 * A small JSON array kept in one file (push history, pin ledger): read tolerantly, since a damaged
 * file must only lose the list, never the work it describes; written whole to a temp name and renamed.
 * Every change goes through update(), which holds a lock from its read to its rename: without it,
 * concurrent pushes each wrote back the list they had read, and all but the last lost their entry.
 */
export class JsonListFile<T> {
  constructor(readonly path: string) {}

  async read(): Promise<T[]> {
    const text = await readFile(this.path, 'utf8').catch(() => '[]')
    try {
      const parsed = JSON.parse(text) as unknown
      return Array.isArray(parsed) ? (parsed as T[]) : []
    } catch {
      return []
    }
  }

  /** Read, change and write back as one step among processes; `change` returning undefined writes nothing. */
  update(change: (items: T[]) => readonly T[] | undefined): Promise<void> {
    return withFileLock(this.path, async () => {
      const items = change(await this.read())
      if (items !== undefined) await writeFileAtomic(this.path, Buffer.from(`${JSON.stringify(items, null, 2)}\n`))
    })
  }
}
