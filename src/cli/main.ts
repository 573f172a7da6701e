import { CommanderError } from 'commander'
import { IpcrError } from '../errors.js'
import { buildProgram } from './program.js'

/** Run the CLI; resolves to the exit code. Every failure becomes one line on stderr. */
export async function main(argv: string[]): Promise<number> {
  // A reader that stops early (`ipcr … --help | head`) closes stdout: that ends us quietly, as it
  // ends a Go tool, instead of as an unhandled EPIPE.
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(0)
    throw err
  })
  const program = buildProgram()
  try {
    await program.parseAsync(argv)
    return typeof process.exitCode === 'number' ? process.exitCode : 0
  } catch (err) {
    if (err instanceof CommanderError) {
      // --help and --version "fail" with exit code 0; real usage errors were already printed by commander.
      return err.exitCode === 0 ? 0 : 2
    }
    const debug = argv.includes('--debug')
    if (err instanceof IpcrError) {
      process.stderr.write(`ipcr: ${err.message}\n`)
      if (debug && err.stack) process.stderr.write(`${err.stack}\n`)
      return err.exitCode
    }
    const e = err as Error
    process.stderr.write(`ipcr: unexpected error: ${e?.message ?? String(err)}${debug ? '' : ' (run with --debug for details)'}\n`)
    if (debug && e?.stack) process.stderr.write(`${e.stack}\n`)
    return 1
  }
}
