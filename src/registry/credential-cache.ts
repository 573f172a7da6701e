import { createHmac, randomBytes } from 'node:crypto'

/**
 * Credentials bcrypt has accepted lately. bcrypt is slow on purpose (cost 10 is tens of ms in
 * JavaScript) and a push is dozens of requests each carrying the same Basic credentials, so a
 * success is remembered for a few minutes. A failure is never remembered: every guess costs a full
 * bcrypt.
 *
 * The key is an HMAC-SHA-256 under a key made at start, never the password: a memory dump or a heap
 * snapshot holds no password, and the key is worthless to another process. It also covers the
 * stored hash, so a password changed in the file invalidates what was remembered under the old one.
 */
export class CredentialCache {
  private readonly secret = randomBytes(32)
  private readonly seen = new Map<string, number>()

  constructor(private readonly o: { ttlMs: number; maxEntries: number; now: () => number }) {}

  key(user: string, password: string, storedHash: string): string {
    // Lengths first: no choice of user and password can make two different triples run together.
    return createHmac('sha256', this.secret)
      .update(`${user.length}:${password.length}:${storedHash}\n`).update(user).update('\n').update(password)
      .digest('base64')
  }

  has(key: string): boolean {
    const expires = this.seen.get(key)
    if (expires === undefined) return false
    if (expires > this.o.now()) return true
    this.seen.delete(key)
    return false
  }

  add(key: string): void {
    this.seen.delete(key) // re-inserted last: the Map's order is then the order of expiry
    this.seen.set(key, this.o.now() + this.o.ttlMs)
    // Bounded: the oldest go first. Only successes get here, so the bound is on real users' sessions.
    for (const oldest of this.seen.keys()) {
      if (this.seen.size <= this.o.maxEntries) break
      this.seen.delete(oldest)
    }
  }
}
