import { constants } from 'node:os'
import { UsageError } from '../errors.js'

const numbers = constants.signals as Readonly<Record<string, number>>

/** A signal number from `SIGTERM`, `TERM`, `term` or `15`, as ctr's --signal takes it (and StopSignal in image configs). */
export function parseSignal(value: string): number {
  const v = value.trim()
  if (/^\d+$/.test(v)) {
    const n = Number(v)
    if (n >= 1 && n <= 64) return n
  } else {
    const name = v.toUpperCase().startsWith('SIG') ? v.toUpperCase() : `SIG${v.toUpperCase()}`
    const n = numbers[name]
    if (n !== undefined) return n
    const rt = /^SIGRTMIN(?:\+(\d+))?$/.exec(name) ?? /^SIGRTMAX(?:-(\d+))?$/.exec(name)
    if (rt) return name.startsWith('SIGRTMIN') ? 34 + Number(rt[1] ?? 0) : 64 - Number(rt[1] ?? 0)
  }
  throw new UsageError(`invalid signal "${value}": expected a name such as SIGTERM or KILL, or a number`)
}

/** The signals `ipcr run` forwards to its task, as ctr's ForwardAllSignals does for the catchable ones. */
export const forwardedSignals: readonly NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR2']
