import { readFile } from 'node:fs/promises'
import { writeFileAtomic } from '../oci/stores/fs-util.js'

/**
 * A small JSON array kept in one file (push history, pin ledger): read tolerantly, since a damaged
 * file must only lose the list, never the work it describes; written whole to a temp name and renamed.
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

  async write(items: readonly T[]): Promise<void> {
    await writeFileAtomic(this.path, Buffer.from(`${JSON.stringify(items, null, 2)}\n`))
  }
}
