import { UsageError } from '../errors.js'

/** Go-style durations as ctr takes them: "90s", "2m", "1h30m", "500ms"; a bare number is seconds. */
export function parseDuration(text: string, flag: string): number {
  if (/^\d+(\.\d+)?$/.test(text)) return Number(text) * 1000
  const units: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }
  let total = 0
  let rest = text
  while (rest !== '') {
    const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)/.exec(rest)
    if (!m) throw new UsageError(`${flag} takes a duration like 30s, 5m or 1h30m, not "${text}"`)
    total += Number(m[1]) * (units[m[2] as string] as number)
    rest = rest.slice(m[0].length)
  }
  if (total <= 0) throw new UsageError(`${flag} must be longer than zero`)
  return total
}
