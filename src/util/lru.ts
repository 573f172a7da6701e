/**
 * A map bounded in entries that forgets the least recently used first, and whose entries may carry
 * an expiry (ms since the epoch; absent: they never expire). A Map iterates in insertion order, so
 * re-inserting on every hit keeps the oldest entry first.
 */
export class Lru<K, V> {
  private readonly entries = new Map<K, { value: V; expires: number | undefined }>()

  constructor(readonly max: number, private readonly now: () => number = Date.now) {
    if (!(max >= 1)) throw new RangeError(`an LRU needs room for at least one entry, not ${max}`)
  }

  get size(): number {
    return this.entries.size
  }

  get(key: K): V | undefined {
    const e = this.entries.get(key)
    if (e === undefined) return undefined
    this.entries.delete(key)
    if (e.expires !== undefined && e.expires <= this.now()) return undefined
    this.entries.set(key, e)
    return e.value
  }

  set(key: K, value: V, ttlMs?: number): void {
    this.entries.delete(key)
    this.entries.set(key, { value, expires: ttlMs === undefined ? undefined : this.now() + ttlMs })
    while (this.entries.size > this.max) {
      const oldest = this.entries.keys().next().value as K
      this.entries.delete(oldest)
    }
  }

  delete(key: K): void {
    this.entries.delete(key)
  }

  /** Live entries, most recently used first (for lookups that must try each). */
  *valuesNewestFirst(): Generator<V> {
    const now = this.now()
    for (const e of [...this.entries.values()].reverse()) {
      if (e.expires === undefined || e.expires > now) yield e.value
    }
  }
}
