import { UsageError } from '../errors.js'

/** `--flag`, `--flag=true|false|1|0`, as ctr-remote's boolean flags take them. */
export function parseBool(name: string) {
  return (value: string | undefined): boolean => {
    if (value === undefined || value === 'true' || value === '1') return true
    if (value === 'false' || value === '0') return false
    throw new UsageError(`--${name} takes true or false, not "${value}"`)
  }
}

/** Repeatable flags collect their values. */
export const collect = (value: string, previous: string[] = []): string[] => [...previous, value]
