import { runInterruptUndos } from '../util/interrupt.js'
import { removeProcessScratch } from '../util/scratch.js'

/** 128 + the signal's number, as shells report a process a signal ended. */
const exitCodes: Partial<Record<NodeJS.Signals, number>> = { SIGINT: 130, SIGTERM: 143 }

let installed = false
const interrupted = new AbortController()

/** Aborted by the first SIGINT or SIGTERM: long operations stop at their next step. */
export const interruptSignal: AbortSignal = interrupted.signal

/**
 * Ctrl-C and SIGTERM stop a command cleanly: registered undos run (leases released), scratch is
 * removed, one line says so, and the exit code is 130 or 143. A second signal exits at once.
 * Not for `run` (it forwards signals to its task) nor servers (they drain and exit 0).
 */
export function stopCleanlyOnSignals(): void {
  if (installed) return
  installed = true
  let stopping = false
  for (const signal of Object.keys(exitCodes) as NodeJS.Signals[]) {
    process.on(signal, () => {
      const code = exitCodes[signal] as number
      if (stopping) process.exit(code)
      stopping = true
      interrupted.abort(new Error(`interrupted by ${signal}`))
      void runInterruptUndos(10_000).finally(() => {
        removeProcessScratch()
        process.stderr.write(`ipcr: interrupted by ${signal}: stopped and cleaned up; run the command again to redo it\n`)
        process.exit(code)
      })
    })
  }
}
