#!/usr/bin/env node
// bench/push: ipcr vs ctr-remote pushing the same generated single-layer image (default 1 GiB)
// from the same containerd to the same kubo, in one run. Prints wall-time ratio and peak RSS.
//   node bench/push.mjs [--size-mib N] [--rounds N]      (npm run build first; needs root for the rig)
// Targets (issue 2): ours/ctr-remote wall time <= 1.0, our peak RSS < 200 MiB.
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { execFileSync } from 'node:child_process'
import { parseArgs } from 'node:util'
import { writeRandomImage, tarLayout } from '../dist/testkit/index.js'
import { ipcrBin, median, rigUp, timed } from './lib.mjs'

const { values } = parseArgs({ options: { 'size-mib': { type: 'string', default: '1024' }, rounds: { type: 'string', default: '3' } } })
const size = Number(values['size-mib']) << 20
const rounds = Number(values.rounds)
const down = rigUp()
const work = await mkdtemp(join(tmpdir(), 'bench-push-'))
try {
  const name = `bench.ipcr/random:${values['size-mib']}m`
  const image = await writeRandomImage(join(work, 'layout'), { layerSize: size, seed: 'bench-push', name })
  await tarLayout(image.dir, join(work, 'image.tar'))
  execFileSync('ctr', ['-a', process.env.CONTAINERD_ADDRESS, 'images', 'import', join(work, 'image.tar')], { stdio: 'inherit' })
  await rm(join(work, 'image.tar'))

  // Each push starts from a kubo that does not hold the blocks yet, so both do the same work.
  const forget = () => {
    execFileSync('ipfs', ['pin', 'ls', '--type=recursive', '-q'], { encoding: 'utf8' }).split('\n').filter(Boolean)
      .forEach((cid) => execFileSync('ipfs', ['pin', 'rm', cid], { stdio: 'ignore' }))
    execFileSync('ipfs', ['repo', 'gc', '--quiet'], { stdio: 'ignore' })
  }
  const ours = []
  const theirs = []
  for (let i = 0; i < rounds; i++) {
    // Alternate who goes first, so page-cache warmth favours neither.
    const order = i % 2 === 0 ? ['theirs', 'ours'] : ['ours', 'theirs']
    for (const who of order) {
      forget()
      if (who === 'ours') ours.push(timed(ipcrBin, ['i', 'ipfs-push', '--estargz=false', name]))
      else theirs.push(timed('ctr-remote', ['-a', process.env.CONTAINERD_ADDRESS, 'i', 'ipfs-push', '--estargz=false', name]))
    }
  }
  const cidOurs = ours[0].stdout
  const cidTheirs = theirs[0].stdout.split('\n').pop()
  const o = median(ours.map((r) => r.wall))
  const t = median(theirs.map((r) => r.wall))
  const rss = Math.max(...ours.map((r) => r.rssMiB))
  console.log(`bench/push: ${values['size-mib']} MiB single-layer image, ${rounds} rounds, median wall time`)
  console.log(`  ipcr        ${o.toFixed(2)} s   peak RSS ${rss.toFixed(0)} MiB`)
  console.log(`  ctr-remote  ${t.toFixed(2)} s   peak RSS ${Math.max(...theirs.map((r) => r.rssMiB)).toFixed(0)} MiB`)
  console.log(`  ratio ipcr/ctr-remote = ${(o / t).toFixed(2)} (target <= 1.0); RSS target < 200 MiB: ${rss < 200 ? 'met' : 'NOT met'}`)
  console.log(`  same root CID: ${cidOurs === cidTheirs ? 'yes' : `NO (${cidOurs} vs ${cidTheirs})`}`)
} finally {
  await rm(work, { recursive: true, force: true })
  down()
}
