#!/usr/bin/env node
// bench/run: `ipcr run --rm IMG id true` against `ctr run --rm IMG id true` on the same unpacked
// image (the single-layer busybox fixture) and the same containerd, in one run. Prints the ratio of
// median wall times.
//   node bench/run.mjs [--rounds N]      (npm run build first; needs root for the rig)
// Target (issue 5): ipcr/ctr <= 1.5, since Node starts slower than Go.
//
//   node bench/run.mjs --transports [--rounds N]
// An A/B of the HTTP/2 clients gRPC runs on (issue 14): ipcr on our own client and ipcr on
// node:http2 (IPCR_GRPC_TRANSPORT=own|node), alternating which goes first, ctr after both for
// context. Prints medians, interquartile ranges, the per-round differences and the ratio; the own
// client is worth keeping only if it gains more than the rounds' spread.
import { execFileSync, spawnSync } from 'node:child_process'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { buildFixtures } from '../dist/testkit/index.js'
import { ipcrBin, median, quantile, rigUp } from './lib.mjs'

const { values } = parseArgs({ options: { rounds: { type: 'string' }, transports: { type: 'boolean', default: false } } })
const rounds = Number(values.rounds ?? (values.transports ? 31 : 15))

/** Wall seconds of one run, to the microsecond (/usr/bin/time's 10 ms steps are too coarse here). */
function timed(cmd, args, env) {
  const start = process.hrtime.bigint()
  const r = spawnSync(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8', env: env ? { ...process.env, ...env } : undefined })
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
  if (values.transports) transportsAB(address, image)
  else versusCtr(address, image)
  const left = execFileSync('ctr', ['-a', address, 'containers', 'ls', '-q'], { encoding: 'utf8' }).trim()
  if (left !== '') console.log(`  containers left behind: ${left.split('\n').join(', ')}`)
} finally {
  down()
}

/** ipcr against ctr, alternating who goes first; bare Node for context. */
function versusCtr(address, image) {
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
}

/** ipcr on each HTTP/2 client, alternating which goes first in a round; ctr last in every round. */
function transportsAB(address, image) {
  const commands = {
    own: [ipcrBin, ['run', '--rm', image, 'bench-run-own', 'true'], { IPCR_GRPC_TRANSPORT: 'own' }],
    node: [ipcrBin, ['run', '--rm', image, 'bench-run-node', 'true'], { IPCR_GRPC_TRANSPORT: 'node' }],
    ctr: ['ctr', ['-a', address, 'run', '--rm', image, 'bench-run-ctr', 'true']],
  }
  for (const [cmd, args, env] of Object.values(commands)) timed(cmd, args, env)
  const walls = { own: [], node: [], ctr: [] }
  for (let i = 0; i < rounds; i++) {
    for (const who of i % 2 === 0 ? ['own', 'node', 'ctr'] : ['node', 'own', 'ctr']) {
      const [cmd, args, env] = commands[who]
      walls[who].push(timed(cmd, args, env))
    }
  }
  const ms = (x) => `${(x * 1000).toFixed(1)} ms`
  const iqr = (xs) => quantile(xs, 0.75) - quantile(xs, 0.25)
  const fmt = (xs) => `median ${ms(median(xs))}  IQR ${ms(quantile(xs, 0.25))}-${ms(quantile(xs, 0.75))} (${ms(iqr(xs))})  min-max ${ms(Math.min(...xs))}-${ms(Math.max(...xs))}`
  // Each round's node:http2 run less its own-client run: both ran back to back, under the same load.
  const diffs = walls.node.map((n, i) => n - walls.own[i])
  const gain = median(walls.node) - median(walls.own)
  const spread = Math.max(iqr(walls.own), iqr(walls.node))
  console.log(`bench/run --transports: run --rm ${image} ... true, ${rounds} rounds each, own and node:http2 alternating first`)
  console.log(`  ipcr, own client   ${fmt(walls.own)}`)
  console.log(`  ipcr, node:http2   ${fmt(walls.node)}`)
  console.log(`  ctr                ${fmt(walls.ctr)}`)
  console.log(`  node:http2 - own: medians ${ms(gain)}; per round: median ${ms(median(diffs))}, IQR ${ms(quantile(diffs, 0.25))} to ${ms(quantile(diffs, 0.75))}, ${diffs.filter((d) => d > 0).length}/${rounds} rounds slower on node:http2`)
  console.log(`  ratio node:http2/own = ${(median(walls.node) / median(walls.own)).toFixed(3)}; own/ctr = ${(median(walls.own) / median(walls.ctr)).toFixed(2)}, node:http2/ctr = ${(median(walls.node) / median(walls.ctr)).toFixed(2)}`)
  console.log(`  the own client's gain ${ms(gain)} is ${gain > spread ? 'larger' : 'not larger'} than the rounds' spread (the larger IQR of the two, ${ms(spread)})`)
}
