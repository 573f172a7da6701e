import { readFileSync } from 'node:fs'

/**
 * A process named so that a recycled pid is not mistaken for it: `<pid>-<start time>`, the start
 * time in clock ticks since boot as /proc/<pid>/stat gives it. Scratch directories and lock files
 * carry their owner's identity, so a later run can tell an owner that is gone (killed, crashed)
 * from one still working.
 */
export type ProcessIdentity = string

function startTicks(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    // Field 22; the command name (field 2) is in parentheses and may itself hold spaces or ')'.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]
  } catch {
    return undefined
  }
}

let self: ProcessIdentity | undefined

export function selfIdentity(): ProcessIdentity {
  self ??= `${process.pid}-${startTicks(process.pid) ?? '0'}`
  return self
}

/** Whether the process an identity names still runs (a malformed identity is taken as gone). */
export function isRunning(identity: ProcessIdentity): boolean {
  const m = /^(\d+)-(\d+)$/.exec(identity)
  if (!m) return false
  const pid = Number(m[1])
  try {
    process.kill(pid, 0)
  } catch (err) {
    // EPERM: it runs, as someone we may not signal.
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return false
  }
  const ticks = startTicks(pid)
  // Without /proc (not Linux) the pid alone has to do; '0' is what such an owner recorded.
  return ticks === undefined || m[2] === '0' || ticks === m[2]
}
