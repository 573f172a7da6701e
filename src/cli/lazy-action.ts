import type { Command } from 'commander'
import type { CommandResult, GlobalOptions } from './globals.js'
import { interruptSignal, stopCleanlyOnSignals } from './interrupt.js'
import { log } from './log.js'

type Run = (args: string[], opts: Record<string, unknown>, globals: GlobalOptions) => Promise<CommandResult>

/**
 * Lazy-load a command module when (and only when) it runs, so `ipcr --help` stays fast. Signals
 * stop a command cleanly (cli/interrupt.ts) unless it handles them itself (`ownSignals`).
 */
export function lazy(load: () => Promise<{ run: Run }>, o: { ownSignals?: boolean } = {}) {
  return async function (this: Command, ...params: unknown[]): Promise<void> {
    const cmd = params[params.length - 1] as Command
    const opts = cmd.opts()
    const globals = { ...(cmd.optsWithGlobals() as unknown as GlobalOptions), signal: interruptSignal }
    log.debugEnabled = globals.debug
    if (o.ownSignals !== true) stopCleanlyOnSignals()
    const { run } = await load()
    const result = await run(cmd.args, opts, globals)
    if (opts.json === true && result.json !== undefined) process.stdout.write(`${JSON.stringify(result.json, null, 2)}\n`)
    else if (result.text !== undefined && result.text !== '') process.stdout.write(result.text.endsWith('\n') ? result.text : `${result.text}\n`)
    if (result.exitCode !== undefined) process.exitCode = result.exitCode
  }
}

