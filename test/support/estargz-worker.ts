// The eStargz pool runs its compiled worker.js in worker threads; under vitest only the TypeScript
// sources exist, so tests that convert through a pool bundle the worker first, once per directory.
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { build } from 'esbuild'

export async function bundledEstargzWorker(dir: string): Promise<URL> {
  const outfile = join(dir, 'worker.mjs')
  await build({ entryPoints: [new URL('../../src/estargz/worker.ts', import.meta.url).pathname], bundle: true, platform: 'node', format: 'esm', outfile, logLevel: 'silent' })
  return pathToFileURL(outfile)
}
