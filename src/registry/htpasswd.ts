import { createHash, timingSafeEqual } from 'node:crypto'
import { readFile, stat } from 'node:fs/promises'
import bcrypt from 'bcryptjs'
import { UsageError } from '../errors.js'

/** One user of an htpasswd file; the name is kept as its SHA-256 too, for a comparison in constant time. */
export interface HtpasswdEntry {
  user: string
  nameDigest: Buffer
  hash: string
}

// bcrypt as htpasswd -B and Go's x/crypto/bcrypt write it: $2a$, $2b$ or $2y$, a two-digit cost,
// then 22 characters of salt and 31 of hash in bcrypt's base64.
const bcryptHash = /^\$2[aby]\$(0[4-9]|[12]\d|3[01])\$[./A-Za-z0-9]{53}$/

const digestOf = (user: string): Buffer => createHash('sha256').update(user, 'utf8').digest()

/**
 * Parse an htpasswd file as CNCF distribution does (registry/auth/htpasswd): a `user:hash` per
 * line, blank lines and lines starting with `#` skipped, a later line for a user replacing an
 * earlier one. Unlike distribution, a non-bcrypt hash is refused here at load rather than failing
 * every login later: distribution only ever verifies bcrypt, so an MD5 or SHA entry could never
 * log in, and saying so at start saves an admin the guessing. Messages name the line, never its text
 * (the hash is a secret too).
 */
export function parseHtpasswd(text: string, file: string): HtpasswdEntry[] {
  const users = new Map<string, HtpasswdEntry>()
  text.split('\n').forEach((raw, i) => {
    const line = raw.trim()
    if (line === '' || line.startsWith('#')) return
    const colon = line.indexOf(':')
    const where = `--htpasswd ${file}: line ${i + 1}`
    if (colon <= 0) throw new UsageError(`${where} is not USER:HASH`)
    const user = line.slice(0, colon)
    const hash = line.slice(colon + 1)
    if (!bcryptHash.test(hash)) throw new UsageError(`${where}: the entry for ${JSON.stringify(user)} is not a bcrypt hash ($2a$, $2b$ or $2y$; make one with htpasswd -B)`)
    users.set(user, { user, nameDigest: digestOf(user), hash })
  })
  return [...users.values()]
}

/** Read and parse; an unreadable file is a UsageError naming it, as a bad flag value is. */
export async function readHtpasswd(file: string): Promise<HtpasswdEntry[]> {
  let text: string
  try {
    text = await readFile(file, 'utf8')
  } catch (err) {
    throw new UsageError(`--htpasswd ${file}: cannot read it (${(err as NodeJS.ErrnoException).code ?? String(err)})`)
  }
  return parseHtpasswd(text, file)
}

/**
 * The entry for `user`, found by comparing SHA-256 digests of every name in constant time without
 * stopping at a match, so how long a login takes does not tell which names exist or how much of
 * one a guess got right.
 */
export function findUser(entries: readonly HtpasswdEntry[], user: string): HtpasswdEntry | undefined {
  const wanted = digestOf(user)
  let found: HtpasswdEntry | undefined
  for (const entry of entries) if (timingSafeEqual(entry.nameDigest, wanted) && found === undefined) found = entry
  return found
}

/** Whether `password` matches a bcrypt `hash`. Kept on an object so a test can count the calls. */
export const bcryptCheck = {
  compare: (password: string, hash: string): Promise<boolean> => bcrypt.compare(password, hash),
}

/** What identifies a version of the file: a new mtime, size or inode (a rename over it) means reload. */
export async function fileVersion(file: string): Promise<string> {
  const s = await stat(file, { bigint: true })
  return `${s.mtimeNs}:${s.size}:${s.ino}`
}
