import { CredentialCache } from './credential-cache.js'
import { bcryptCheck, fileVersion, findUser, readHtpasswd, type HtpasswdEntry } from './htpasswd.js'

export interface HtpasswdUsersOptions {
  /** Where reloads are reported, a line for people: the file and a line number, never a line's text. */
  notify?: (message: string) => void
  now?: () => number
}

const recheckMs = 1000
const cacheTtlMs = 5 * 60_000
const cacheEntries = 1000

/**
 * The users of an --htpasswd file, kept current: an admin adding a user with `htpasswd -B` expects
 * the next push to see it, without a restart. The file's mtime (and size, and inode) is looked at
 * no more than once a second; a changed file is read again, and a reload that fails (a line being
 * written, a bad entry, the file gone) keeps the users loaded before and says so once.
 */
export class HtpasswdUsers {
  private readonly cache: CredentialCache
  private readonly inFlight = new Map<string, Promise<boolean>>()
  private readonly now: () => number
  private checked: number

  private constructor(private readonly file: string, private entries: HtpasswdEntry[], private version: string, private readonly o: HtpasswdUsersOptions) {
    this.now = o.now ?? Date.now
    this.checked = this.now()
    this.cache = new CredentialCache({ ttlMs: cacheTtlMs, maxEntries: cacheEntries, now: this.now })
  }

  /** Load the file; a missing, unreadable or malformed one is a UsageError naming it (and the line). */
  static async load(file: string, o: HtpasswdUsersOptions = {}): Promise<HtpasswdUsers> {
    const version = await fileVersion(file).catch(() => '')
    return new HtpasswdUsers(file, await readHtpasswd(file), version, o)
  }

  get size(): number {
    return this.entries.length
  }

  /** Whether `password` is `user`'s. */
  async verify(user: string, password: string): Promise<boolean> {
    await this.reloadIfChanged()
    const entry = findUser(this.entries, user)
    if (entry === undefined) {
      // As distribution does: an unknown user costs a bcrypt all the same, so a wrong name takes as
      // long to refuse as a wrong password and timing does not reveal which names exist.
      const any = this.entries[0]
      if (any !== undefined) await bcryptCheck.compare(password, any.hash)
      return false
    }
    const key = this.cache.key(user, password, entry.hash)
    if (this.cache.has(key)) return true
    // A push opens several connections at once with the same credentials: one bcrypt serves them all.
    let pending = this.inFlight.get(key)
    if (pending === undefined) {
      pending = bcryptCheck.compare(password, entry.hash).catch(() => false)
      this.inFlight.set(key, pending)
      void pending.then((ok) => { this.inFlight.delete(key); if (ok) this.cache.add(key) })
    }
    return pending
  }

  private async reloadIfChanged(): Promise<void> {
    const now = this.now()
    if (now - this.checked < recheckMs) return
    this.checked = now
    let version: string
    try {
      version = await fileVersion(this.file)
    } catch (err) {
      this.keep(`gone:${(err as NodeJS.ErrnoException).code ?? ''}`, `cannot stat it (${(err as NodeJS.ErrnoException).code ?? String(err)})`)
      return
    }
    if (version === this.version) return
    try {
      this.entries = await readHtpasswd(this.file)
      this.version = version
      this.o.notify?.(`--htpasswd ${this.file} changed: ${this.entries.length} user(s) now`)
    } catch (err) {
      this.keep(version, err instanceof Error ? err.message : String(err))
    }
  }

  /** Keep the users loaded before, and say why once per version of the file (not once a second). */
  private keep(version: string, why: string): void {
    if (version === this.version) return
    this.version = version
    this.o.notify?.(`${why.startsWith('--htpasswd') ? why : `--htpasswd ${this.file}: ${why}`}; keeping the ${this.entries.length} user(s) loaded before`)
  }
}
