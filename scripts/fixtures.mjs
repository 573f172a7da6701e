#!/usr/bin/env node
// Build the deterministic test fixture images (see src/testkit/fixtures.ts) and print where they
// are. Needs `npm run build` first (it imports the compiled kit) and a static busybox
// (`apt-get install -y busybox-static`, or IPCR_BUSYBOX=/path/to/busybox).
//
//   node scripts/fixtures.mjs [OUTDIR] [--force]     default OUTDIR: test/fixtures/build
import { fileURLToPath } from 'node:url'
import { dirname, resolve } from 'node:path'

const args = process.argv.slice(2)
const force = args.includes('--force')
const outArg = args.find((a) => !a.startsWith('--'))
const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..')
const outDir = resolve(outArg ?? resolve(repo, 'test/fixtures/build'))

const { buildFixtures } = await import('../dist/testkit/index.js').catch((err) => {
  console.error(`cannot load dist/testkit (run \`npm run build\` first): ${err.message}`)
  process.exit(1)
})

const started = performance.now()
const f = await buildFixtures(outDir, { force })
const ms = Math.round(performance.now() - started)

console.log(`fixtures in ${f.dir} (${ms} ms)`)
for (const img of [f.single, f.multi, f.platforms]) {
  console.log(`${img.name}\n  layout ${img.layout}\n  tar    ${img.tar}\n  root   ${img.root.mediaType} ${img.root.digest}`)
}
console.log(`${f.dockerArchive.name}\n  docker-archive ${f.dockerArchive.path}\n  config ${f.dockerArchive.configDigest}`)
