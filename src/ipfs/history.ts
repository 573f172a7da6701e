import { join } from 'node:path'
import { JsonListFile } from '../util/json-list-file.js'

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
  private readonly file: JsonListFile<PushRecord>

  constructor(root: string) {
    this.file = new JsonListFile(join(root, 'pushes.json'))
  }

  list(): Promise<PushRecord[]> {
    return this.file.read()
  }

  /** Add or replace the entry of one reference (under the file's lock: pushes run side by side). */
  record(entry: PushRecord): Promise<void> {
    return this.file.update((all) => [...all.filter((e) => e.ref !== entry.ref), entry].sort((a, b) => a.ref.localeCompare(b.ref)))
  }
}
