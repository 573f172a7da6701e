'use strict'
// @ts-check
// Runs the CLI bundle (dist/bundle/cli.cjs, made by scripts/bundle.mjs) with the V8 code cache the
// build made for it. Node 20 has no compile cache of its own, and compiling the CLI's code was a
// fifth of a whole `ipcr run` (bench/run). V8 checks the cache against the source, its own version
// and flags; one it rejects (another Node than the build's) is ignored and the code compiled as usual.
// scripts/bundle.mjs loads the bundle through loadCli() too, so both compile the same wrapped source.
const { existsSync, readFileSync } = require('node:fs')
const Module = require('node:module')
const { dirname, join } = require('node:path')
const { Script } = require('node:vm')

const bundle = join(__dirname, '..', 'dist', 'bundle', 'cli.cjs')
const cacheFile = `${bundle}.cache`
/**
 * The V8 flags bin/ipcr starts node with. V8 rejects a code cache made under other flags, so
 * scripts/bundle.mjs trains the cache under these same ones (test/unit/launcher.test.ts checks
 * that bin/ipcr passes them); `node bin/ipcr.cjs` without them works, only compiling afresh.
 */
const nodeFlags = ['--max-semi-space-size=4']

/**
 * Compile and evaluate the bundle as a CommonJS module.
 * @param {{ cache?: boolean }} [options] cache: false compiles without the code cache (the build does, to make it)
 * @returns {{ main: (argv: string[]) => Promise<number>, script: import('node:vm').Script }}
 */
function loadCli(options = {}) {
  const source = readFileSync(bundle, 'utf8')
  const cachedData = options.cache === false || !existsSync(cacheFile) ? undefined : readFileSync(cacheFile)
  const script = new Script(Module.wrap(source), { filename: bundle, cachedData })
  const mod = new Module(bundle, module)
  mod.filename = bundle
  script.runInThisContext().call(mod.exports, mod.exports, Module.createRequire(bundle), mod, bundle, dirname(bundle))
  return { main: mod.exports.main, script }
}

module.exports = { loadCli, cacheFile, nodeFlags }

if (require.main === module) {
  if (!existsSync(bundle)) {
    process.stderr.write(`ipcr: ${bundle} is missing: build ipcr first (npm ci && npm run build in ${join(__dirname, '..')})\n`)
    process.exitCode = 1
  } else {
    loadCli().main(process.argv).then((code) => { process.exitCode = code })
  }
}
