import { fileURLToPath } from 'node:url'
import { run, type RunOptions, type RunResult } from './rig.js'

const bin = fileURLToPath(new URL('../../bin/ipcr', import.meta.url))

/** Run the built CLI (npm run build) as a user would, with the rig's environment. */
export function ipcr(args: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  return run(bin, [...args], opts)
}

/** Assert the shape every failure must have: non-zero exit, nothing on stdout, one line on stderr. */
export function expectCleanFailure(r: RunResult): string {
  const lines = r.stderr.trim().split('\n').filter((l) => l.startsWith('ipcr: '))
  if (r.code === 0 || r.stdout !== '' || lines.length !== 1) {
    throw new Error(`expected a clean one-line failure, got exit ${r.code}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`)
  }
  return lines[0] as string
}
