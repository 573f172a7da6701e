#!/usr/bin/env node
// bench/registry (issue 15): `ctr images pull` of the same image from ipcr's registry
// (`ipcr registry serve`, blobs out of kubo) and from CNCF distribution (Debian's docker-registry,
// blobs on its disk), in one run. Target: ipcr/distribution median wall time <= 1.1.
// With --side push (issue 16), `skopeo copy` of the image into each instead: bench/registry-push.mjs.
//   node bench/registry.mjs [--side pull|push] [--image realistic|random] [--size-mib N] [--rounds N]
//     (npm run build first; needs root for the rig)
// --image realistic: bench/realistic-image.mjs (Debian bookworm minbase + python3, 3 gzip layers);
// --image random: one uncompressed layer of N MiB of random bytes (testkit's writeRandomImage).
//
// The same blobs in both: the layout goes into kubo with `ipcr i ipfs-push --estargz=false
// --ipns=false oci-layout:DIR` (root CID), ipcr's registry serves it as ipfs/CID:latest, and
// `ipcr image copy ipfs:CID docker://DIST/bench/IMAGE:1` puts it into distribution. That copy drops
// the descriptors' ipfs:// URLs (distribution refuses any URL that is not http(s)), so the manifests
// differ in those URLs and in their digests, and every config and layer blob is the same bytes;
// checked below before any round. (skopeo copying from ipcr's registry would skip the layers that
// carry URLs, as foreign layers, and distribution would refuse the manifest all the same.)
//
// Each round pulls from both, alternating who goes first, each on a fresh containerd (`scripts/rig.sh
// wipe`, containerd's root a fresh journaled ext4 as in bench/pull; kubo and both servers keep
// running). Peak RSS per pull: each server's VmHWM, reset before the pull (`5` to /proc/PID/clear_refs);
// on ipcr's side kubo's too, since it holds the blocks. containerd runs at debug level so each pull's
// Diff.Apply (the same unpack whichever registry served the blobs) can be subtracted.
import { execFileSync } from 'node:child_process'
import { readFileSync, statSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { writeRandomImage } from '../dist/testkit/index.js'
import { ensureRealisticImage } from './realistic-image.mjs'
import { goSeconds, ipcrBin, loadNow, median, peakMiB, resetPeak, rigUp, startDistribution, startIpcrRegistry, timed, wipeRig } from './lib.mjs'

const { values } = parseArgs({ options: { side: { type: 'string', default: 'pull' }, image: { type: 'string', default: 'realistic' }, 'size-mib': { type: 'string', default: '1024' }, rounds: { type: 'string', default: '5' } } })
if (!['realistic', 'random'].includes(values.image)) throw new Error(`--image realistic|random, not ${values.image}`)
if (!['pull', 'push'].includes(values.side)) throw new Error(`--side pull|push, not ${values.side}`)
const rounds = Number(values.rounds)
const load0 = loadNow()
const work = await mkdtemp(join(tmpdir(), 'bench-registry-'))
let img
if (values.image === 'realistic') {
  const r = await ensureRealisticImage()
  img = { dir: r.layoutDir, what: `${r.name}: ${r.layers.length} gzip layers, ${(r.layerSizes.reduce((a, b) => a + b, 0) / 1048576).toFixed(1)} MiB`, repo: 'bench/realistic' }
} else {
  const r = await writeRandomImage(join(work, 'layout'), { layerSize: Number(values['size-mib']) << 20, seed: 'bench-registry', name: `bench.ipcr/random:${values['size-mib']}m` })
  img = { dir: r.dir, what: `one uncompressed layer of ${values['size-mib']} MiB random bytes`, repo: 'bench/random' }
}
// The push side lives in bench/registry-push.mjs; the rest of this file is the pull side.
if (values.side === 'push') {
  const privateRig = !process.env.IPCR_RIG_DIR
  const down = rigUp()
  try {
    const { benchPush } = await import('./registry-push.mjs')
    await benchPush({ img, rounds, work, load0, privateRig })
  } finally {
    await rm(work, { recursive: true, force: true })
    down()
  }
  process.exit(0)
}

// Before the rig starts: every wipe then makes containerd a fresh journaled ext4 (rig.sh start_containerd).
process.env.IPCR_RIG_CONTAINERD_FS = 'ext4'
const down = rigUp()
const rigDir = process.env.IPCR_RIG_DIR
const address = process.env.CONTAINERD_ADDRESS
process.env.IPCR_RIG_CONTAINERD_LOG_LEVEL = 'debug' // from the first wipe on
const containerdLog = process.env.IPCR_RIG_CONTAINERD_LOG
const kuboPid = Number(readFileSync(join(rigDir, 'ipfs.pid'), 'utf8'))
const stops = []

/** Seconds of Diff.Apply that containerd logged past byte `from` of its log. */
function applySeconds(from) {
  let total = 0
  for (const [, d] of readFileSync(containerdLog, 'utf8').slice(from).matchAll(/msg="diff applied" d=([^ ]+)/g)) total += goSeconds(d)
  return total
}
const ACCEPT = ['application/vnd.oci.image.index.v1+json', 'application/vnd.oci.image.manifest.v1+json', 'application/vnd.docker.distribution.manifest.list.v2+json', 'application/vnd.docker.distribution.manifest.v2+json'].join(', ')
/** The linux/amd64 manifest's digest, config and layer digests behind HOST/REPO:REF. */
async function blobsOf(host, repo, ref) {
  const get = async (r) => {
    const res = await fetch(`http://${host}/v2/${repo}/manifests/${r}`, { headers: { accept: ACCEPT } })
    if (!res.ok) throw new Error(`GET ${host}/v2/${repo}/manifests/${r}: ${res.status}`)
    return { digest: res.headers.get('docker-content-digest'), json: await res.json() }
  }
  let m = await get(ref)
  if (m.json.manifests) m = await get(m.json.manifests.find((d) => !d.platform || (d.platform.os === 'linux' && d.platform.architecture === 'amd64')).digest)
  return { digest: m.digest, blobs: [m.json.config, ...m.json.layers].map((d) => `${d.digest}/${d.size}`), urls: m.json.layers.some((d) => d.urls?.length) }
}

try {
  const cid = execFileSync(ipcrBin, ['i', 'ipfs-push', '--estargz=false', '--ipns=false', `oci-layout:${img.dir}`], { encoding: 'utf8' }).trim().split('\n').pop()
  const ipcr = await startIpcrRegistry(join(work, 'ipcr-registry.log'))
  stops.push(ipcr.stop)
  const dist = await startDistribution(join(work, 'distribution'))
  stops.push(dist.stop)
  execFileSync(ipcrBin, ['image', 'copy', `ipfs:${cid}`, `docker://${dist.host}/${img.repo}:1`], { stdio: ['ignore', 'ignore', 'inherit'] })
  const refs = { ipcr: `${ipcr.host}/ipfs/${cid}:latest`, distribution: `${dist.host}/${img.repo}:1` }
  const a = await blobsOf(ipcr.host, `ipfs/${cid}`, 'latest')
  const b = await blobsOf(dist.host, img.repo, '1')
  if (a.blobs.join() !== b.blobs.join()) throw new Error(`not the same blobs:\n  ipcr ${a.blobs.join(' ')}\n  distribution ${b.blobs.join(' ')}`)
  console.error(`  ${cid}: same config and ${a.blobs.length - 1} layers in both; manifests ${a.digest} (ipfs:// URLs: ${a.urls}) and ${b.digest} (URLs: ${b.urls})`)

  const servers = { ipcr: [ipcr.pid, kuboPid], distribution: [dist.pid] }
  const runs = { ipcr: [], distribution: [] }
  for (let i = 0; i < rounds; i++) {
    for (const who of i % 2 === 0 ? ['distribution', 'ipcr'] : ['ipcr', 'distribution']) {
      wipeRig(rigDir)
      const from = statSync(containerdLog).size
      servers[who].forEach(resetPeak)
      const r = timed('ctr', ['-a', address, 'images', 'pull', '--plain-http', refs[who]])
      r.peaks = servers[who].map(peakMiB)
      r.apply = applySeconds(from)
      if (r.apply === 0) throw new Error(`containerd logged no "diff applied" for the pull from ${who}: is it at debug level?`)
      runs[who].push(r)
      console.error(`  round ${i + 1} ${who}: ${r.wall.toFixed(2)} s, of which containerd's Apply ${r.apply.toFixed(2)} s; server peak RSS ${r.peaks.map((p) => p.toFixed(0)).join(' + ')} MiB`)
    }
  }

  const med = (who, f) => median(runs[who].map(f))
  const list = (who, f) => runs[who].map((r) => f(r).toFixed(2)).join(', ')
  const o = med('ipcr', (r) => r.wall)
  const t = med('distribution', (r) => r.wall)
  const peak = (who, k) => Math.max(...runs[who].map((r) => r.peaks[k]))
  console.log(`bench/registry: ${img.what}, ${rounds} rounds, ctr images pull --plain-http on a fresh containerd, median wall time`)
  console.log(`  ipfs CID ${cid}; containerd ${execFileSync('ctr', ['-a', address, 'version'], { encoding: 'utf8' }).match(/Server:\s+Version:\s+(\S+)/)?.[1] ?? '?'}`)
  console.log(`  load average at start ${load0}, at end ${loadNow()} (2 cores)`)
  console.log(`  ipcr registry serve  ${o.toFixed(2)} s  (${list('ipcr', (r) => r.wall)})   peak RSS ${peak('ipcr', 0).toFixed(0)} MiB (kubo ${peak('ipcr', 1).toFixed(0)} MiB)`)
  console.log(`  distribution         ${t.toFixed(2)} s  (${list('distribution', (r) => r.wall)})   peak RSS ${peak('distribution', 0).toFixed(0)} MiB`)
  console.log(`  ratio ipcr/distribution = ${(o / t).toFixed(2)} (target <= 1.1: ${o / t <= 1.1 ? 'met' : 'NOT met'})`)
  const own = (r) => r.wall - r.apply
  const oo = med('ipcr', own)
  const ot = med('distribution', own)
  console.log(`  less containerd's Diff.Apply (medians ${med('ipcr', (r) => r.apply).toFixed(2)} s and ${med('distribution', (r) => r.apply).toFixed(2)} s): ipcr ${oo.toFixed(2)} s (${list('ipcr', own)}), distribution ${ot.toFixed(2)} s (${list('distribution', own)}), ratio ${(oo / ot).toFixed(2)}`)
} finally {
  for (const stop of stops.reverse()) stop()
  await rm(work, { recursive: true, force: true })
  down()
}
