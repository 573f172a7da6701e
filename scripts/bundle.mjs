// The CLI as users run it: one CommonJS bundle of dist/cli.js with a V8 code cache beside it.
// A CommonJS entry spares Node 20 from starting its ESM loader, one file spares resolving and
// linking some sixty modules, and the code cache spares parsing and compiling 1.3 MB of JavaScript
// at every start; together they took a third off `ipcr run` (bench/run). bin/ipcr.cjs loads it.
//
//   dist/bundle/cli.cjs         the CLI; its `main` is what bin/ipcr.cjs calls
//   dist/bundle/cli.cjs.cache   V8 code cache, made by running commands that need no daemon
//   dist/bundle/worker.js       the eStargz worker (ESM), found beside the bundle as in dist/estargz/
//   dist/bundle/proto/          our .proto files, found beside the bundle as in dist/containerd/
import { spawnSync } from 'node:child_process'
import { cpSync, mkdtempSync, rmSync } from 'node:fs'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { build } from 'esbuild'

const root = fileURLToPath(new URL('..', import.meta.url))
const out = join(root, 'dist', 'bundle')
const common = { bundle: true, platform: 'node', target: 'node20', logLevel: 'warning', sourcemap: 'linked', legalComments: 'none', minifyWhitespace: true, minifySyntax: true }

rmSync(out, { recursive: true, force: true })
await build({
  ...common,
  entryPoints: [join(root, 'dist', 'cli.js')],
  outfile: join(out, 'cli.cjs'),
  format: 'cjs',
  // import.meta.url locates the .proto files and the worker; in the bundle it is the bundle's own URL.
  define: { 'import.meta.url': '__ipcrBundleUrl' },
  banner: { js: "const __ipcrBundleUrl = require('node:url').pathToFileURL(__filename).href;" },
})
await build({
  ...common,
  entryPoints: [join(root, 'dist', 'estargz', 'worker.js')],
  outfile: join(out, 'worker.js'),
  format: 'esm',
  // CommonJS dependencies inside an ESM bundle call require() for Node's own modules.
  banner: { js: "import { createRequire as __ipcrCreateRequire } from 'node:module'; const require = __ipcrCreateRequire(import.meta.url);" },
})
cpSync(join(root, 'dist', 'containerd', 'proto'), join(out, 'proto'), { recursive: true })

// The code cache holds what a run compiled, so train on commands that load the usual paths and fail
// fast without touching anything: no containerd socket, no kubo, an empty IPCR_ROOT.
const scratch = mkdtempSync(join(tmpdir(), 'ipcr-bundle-'))
const nowhere = join(scratch, 'none.sock')
const training = [
  ['--help'],
  ['-a', nowhere, 'run', '--rm', 'train', 'train', 'true'],
  ['-a', nowhere, 'image', 'ls'],
  ['-a', nowhere, 'image', 'rpull', '--ipfs', 'bafkreie7754qk7fl56ebauawdgfuqqa3kdd7sotvuhsm6wbz3qin6ssw3a'],
  ['image', 'ipfs-push', `oci-layout:${join(scratch, 'no-layout')}`],
]
// The trainer writes the cache where bin/ipcr.cjs looks for it: a temp name, renamed when whole.
const trainer = `
const { renameSync, writeFileSync } = require('node:fs')
const { loadCli, cacheFile } = require(${JSON.stringify(join(root, 'bin', 'ipcr.cjs'))})
const { main, script } = loadCli({ cache: false })
;(async () => {
  for (const argv of ${JSON.stringify(training)}) await main(['node', 'ipcr', ...argv])
  // The node:http2 transport too (IPCR_GRPC_TRANSPORT), so bench/run's A/B compares cached code with cached code.
  process.env.IPCR_GRPC_TRANSPORT = 'node'
  await main(['node', 'ipcr', ...${JSON.stringify(training[1])}])
  delete process.env.IPCR_GRPC_TRANSPORT
  writeFileSync(cacheFile + '.tmp', script.createCachedData())
  renameSync(cacheFile + '.tmp', cacheFile)
})()`
const env = { ...process.env, IPFS_PATH: join(scratch, 'ipfs'), IPCR_ROOT: join(scratch, 'root'), CONTAINERD_ADDRESS: nowhere }
delete env.NODE_EXTRA_CA_CERTS
// Under the flags bin/ipcr gives node: V8 takes a code cache only from a run with the same flags.
const { nodeFlags } = createRequire(import.meta.url)(join(root, 'bin', 'ipcr.cjs'))
const r = spawnSync(process.execPath, [...nodeFlags, '-e', trainer], { env, encoding: 'utf8', stdio: ['ignore', 'ignore', 'pipe'] })
if (r.status !== 0) {
  rmSync(scratch, { recursive: true, force: true })
  throw new Error(`training the code cache failed (${r.status ?? r.signal}):\n${r.stderr}`)
}
rmSync(scratch, { recursive: true, force: true })
