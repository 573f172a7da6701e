#!/usr/bin/env node
// bench/run: `ipcr run --rm IMG id true` against `ctr run --rm IMG id true` on the same unpacked
// image (the single-layer busybox fixture) and the same containerd, in one run. Prints the ratio of
// median wall times.
//   node bench/run.mjs [--rounds N]      (npm run build first; needs root for the rig)
// Target (issue 5): ipcr/ctr <= 1.5, since Node starts slower than Go.
import { execFileSync, spawnSync } from 'node:child_process'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { buildFixtures } from '../dist/testkit/index.js'
import { ipcrBin, median, rigUp } from './lib.mjs'

const { values } = parseArgs({ options: { rounds: { type: 'string', default: '15' } } })
const rounds = Number(values.rounds)

/** Wall seconds of one run, to the microsecond (/usr/bin/time's 10 ms steps are too coarse here). */
function timed(cmd, args) {
  const start = process.hrtime.bigint()
  const r = spawnSync(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' })
  const wall = Number(process.hrtime.bigint() - start) / 1e9
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status ?? r.signal}):\n${r.stderr}`)
  return wall
}
const down = rigUp()
try {
  const address = process.env.CONTAINERD_ADDRESS
  const fx = await buildFixtures(join(tmpdir(), 'ipcr-fixtures'))
  // ctr's import unpacks for overlayfs, so both runs start from the same committed snapshot.
  execFileSync('ctr', ['-a', address, 'images', 'import', fx.single.tar], { stdio: ['ignore', 'ignore', 'inherit'] })
  const image = fx.single.name
  const commands = {
    ipcr: [ipcrBin, ['run', '--rm', image, 'bench-run-ipcr', 'true']],
    ctr: ['ctr', ['-a', address, 'run', '--rm', image, 'bench-run-ctr', 'true']],
    // Context, not a contestant: Node starting and exiting, which no JavaScript CLI goes below
    // (without NODE_EXTRA_CA_CERTS, as bin/ipcr starts it).
    node: ['env', ['-u', 'NODE_EXTRA_CA_CERTS', process.execPath, '-e', '0']],
  }
  // One untimed run each: page cache, shim binary, runc.
  for (const [cmd, args] of Object.values(commands)) timed(cmd, args)
  const walls = { ipcr: [], ctr: [], node: [] }
  for (let i = 0; i < rounds; i++) {
    // Alternate who goes first, so neither always runs right after the other's teardown.
    for (const who of i % 2 === 0 ? ['ctr', 'ipcr', 'node'] : ['ipcr', 'ctr', 'node']) {
      const [cmd, args] = commands[who]
      walls[who].push(timed(cmd, args))
    }
  }
  const o = median(walls.ipcr)
  const t = median(walls.ctr)
  const fmt = (xs) => `median ${median(xs).toFixed(3)} s  (min ${Math.min(...xs).toFixed(3)}, max ${Math.max(...xs).toFixed(3)})`
  console.log(`bench/run: run --rm ${image} ... true, ${rounds} rounds each, alternating`)
  console.log(`  ipcr  ${fmt(walls.ipcr)}`)
  console.log(`  ctr   ${fmt(walls.ctr)}`)
  console.log(`  ratio ipcr/ctr = ${(o / t).toFixed(2)} (target <= 1.5)`)
  console.log(`  for context, node -e 0: ${fmt(walls.node)}`)
  const left = execFileSync('ctr', ['-a', address, 'containers', 'ls', '-q'], { encoding: 'utf8' }).trim()
  if (left !== '') console.log(`  containers left behind: ${left.split('\n').join(', ')}`)
} finally {
  down()
}
