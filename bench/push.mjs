#!/usr/bin/env node
// bench/push: ipcr vs ctr-remote pushing the same generated single-layer image (default 1 GiB)
// from the same containerd to the same kubo, in one run. Prints wall-time ratio and peak RSS.
//   node bench/push.mjs [--size-mib N] [--rounds N]      (npm run build first; needs root for the rig)
// Targets (issue 2): ours/ctr-remote wall time <= 1.0, our peak RSS < 200 MiB.
// Second row (issue 14): the same image in a registry (CNCF distribution on 127.0.0.1, put there by
// skopeo). `ipcr i ipfs-push docker://…` needs no containerd; a ctr-remote user must
// `ctr-remote i pull` (fetch and unpack) and then `ctr-remote i ipfs-push`. Target: at most 0.5.
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { execFileSync } from 'node:child_process'
import { parseArgs } from 'node:util'
import { writeRandomImage, tarLayout } from '../dist/testkit/index.js'
import { ipcrBin, median, rigUp, startDistribution, timed } from './lib.mjs'

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

  // ---- from a registry ----
  const registry = await startDistribution(join(work, 'registry'))
  try {
    const ref = `${registry.host}/bench/random:${values['size-mib']}m`
    execFileSync('skopeo', ['copy', '--dest-tls-verify=false', `oci:${image.dir}`, `docker://${ref}`], { stdio: 'ignore' })
    const ctrArgs = ['-a', process.env.CONTAINERD_ADDRESS]
    const fromRegistry = { ours: [], theirs: [] }
    for (let i = 0; i < rounds; i++) {
      for (const who of i % 2 === 0 ? ['theirs', 'ours'] : ['ours', 'theirs']) {
        forget()
        if (who === 'ours') { fromRegistry.ours.push(timed(ipcrBin, ['i', 'ipfs-push', '--estargz=false', '--ipns=false', `docker://${ref}`])); continue }
        // What the image in containerd costs them is part of their push: remove it (and its content) first.
        try { execFileSync('ctr', [...ctrArgs, 'images', 'rm', '--sync', ref], { stdio: 'ignore' }) } catch { /* not there yet */ }
        const pull = timed('ctr-remote', [...ctrArgs, 'i', 'pull', '--local', '--plain-http', ref])
        const push = timed('ctr-remote', [...ctrArgs, 'i', 'ipfs-push', '--estargz=false', ref])
        fromRegistry.theirs.push({ wall: pull.wall + push.wall, rssMiB: Math.max(pull.rssMiB, push.rssMiB), stdout: push.stdout })
      }
    }
    const ro = median(fromRegistry.ours.map((r) => r.wall))
    const rt = median(fromRegistry.theirs.map((r) => r.wall))
    console.log(`bench/push from a registry: ${rounds} rounds, median wall time`)
    console.log(`  ipcr i ipfs-push docker://…                 ${ro.toFixed(2)} s   peak RSS ${Math.max(...fromRegistry.ours.map((r) => r.rssMiB)).toFixed(0)} MiB`)
    console.log(`  ctr-remote i pull + ctr-remote i ipfs-push  ${rt.toFixed(2)} s`)
    console.log(`  ratio = ${(ro / rt).toFixed(2)} (target <= 0.5)`)
    console.log(`  same root CID: ${fromRegistry.ours[0].stdout === fromRegistry.theirs[0].stdout.split('\n').pop() ? 'yes' : 'NO'}`)
  } finally {
    registry.stop()
  }
} finally {
  await rm(work, { recursive: true, force: true })
  down()
}
