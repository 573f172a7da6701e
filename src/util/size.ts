import { UsageError } from '../errors.js'

const units: Record<string, number> = { '': 1, b: 1, k: 2 ** 10, m: 2 ** 20, g: 2 ** 30, t: 2 ** 40 }

/** Bytes, optionally with a k, m, g or t suffix (powers of 1024; `256m`, `4MiB`, `1G`). */
export function parseSize(value: string, flag: string): number {
  const m = /^(\d+)([kmgt]i?b?|b)?$/i.exec(value.trim())
  const n = m ? Number(m[1]) * (units[(m[2] ?? '').charAt(0).toLowerCase()] as number) : NaN
  if (!Number.isSafeInteger(n) || n <= 0) throw new UsageError(`invalid ${flag} "${value}": expected a number of bytes, e.g. 268435456, 256m or 4GiB`)
  return n
}

/** `4 MiB`, `1.5 GiB`: how sizes appear in messages. */
export function formatSize(bytes: number): string {
  if (bytes < 1024) return `${bytes} bytes`
  const [unit, div] = bytes >= 2 ** 40 ? ['TiB', 2 ** 40] : bytes >= 2 ** 30 ? ['GiB', 2 ** 30] : bytes >= 2 ** 20 ? ['MiB', 2 ** 20] : ['KiB', 1024]
  return `${Number((bytes / div).toFixed(1))} ${unit}`
}
