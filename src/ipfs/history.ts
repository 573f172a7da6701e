import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { writeFileAtomic } from '../oci/stores/fs-util.js'

/** One published reference, as `image ls --ipfs` shows it and `ipns republish --all` renews it. */
export interface PushRecord {
  ref: string
  root: string
  /** IPNS name, when the push published one. */
  ipnsName?: string | undefined
  /** The kubo key that signed, or undefined for the key derived from the reference. */
  key?: string | undefined
  backend: 'kubo' | 'embedded'
  pushedAt: string
  expires?: string | undefined
  lifetimeMs?: number | undefined
  ttlMs?: number | undefined
}

/** Pushes remembered per reference under `$IPCR_ROOT/pushes.json`, newest entry per reference. */
export class PushHistory {
  private readonly file: string

  constructor(root: string) {
    this.file = join(root, 'pushes.json')
  }

  async list(): Promise<PushRecord[]> {
    const text = await readFile(this.file, 'utf8').catch(() => '[]')
    try {
      const parsed = JSON.parse(text) as unknown
      return Array.isArray(parsed) ? (parsed as PushRecord[]) : []
    } catch {
      return [] // a damaged history only loses the list, never a push
    }
  }

  async record(entry: PushRecord): Promise<void> {
    const all = (await this.list()).filter((e) => e.ref !== entry.ref)
    all.push(entry)
    all.sort((a, b) => a.ref.localeCompare(b.ref))
    await writeFileAtomic(this.file, Buffer.from(`${JSON.stringify(all, null, 2)}\n`))
  }
}
