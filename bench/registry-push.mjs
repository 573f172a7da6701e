// bench/registry --side push (issue 16): `skopeo copy --preserve-digests oci:LAYOUT docker://…` of
// the same image into ipcr's registry (`ipcr registry serve --allow-push` over the rig's kubo:
// spooled, hashed, checked, added to IPFS, made into the IPFS-enabled image and published via IPNS)
// and into CNCF distribution (Debian's docker-registry, blobs on its disk), in one run.
// Target: ipcr/distribution median wall time <= 1.5 (ipcr hashes twice: for digests and for CIDs).
// Entered through bench/registry.mjs, which picks the image and starts the rig.
//
// Each round pushes to both, alternating who goes first, to a repository named for the round
// (REPO-<round>:<round>). What is fresh each round, so that no blob is found already there:
//   - ipcr: a new server process with a new --storage directory (its global blob index and upload
//     area), so every blob is uploaded, hashed and added; a new IPNS key (derived from the new name);
//   - kubo (a private rig only): after each ipcr round the pins it made are removed and `ipfs repo
//     gc` drops its blocks, so the next round's adds write every block again. Not fresh: the kubo
//     process itself, its flatfs shard directories and the page cache. On a rig named by
//     IPCR_RIG_DIR nothing is collected (it is not ours), and later rounds find their blocks held;
//   - distribution: a new process with a new storage directory;
//   - skopeo: its blob-info cache (/var/lib/containers/cache, which would send it mounting blobs
//     from an earlier round's repository) is a private tmpfs per copy, in a mount namespace of its own.
// The layout's files are in the page cache after the first read, for both.
//
// Peak RSS per push: each server's VmHWM, reset before the push (`5` to /proc/PID/clear_refs); on
// ipcr's side kubo's too, since it hashes and stores the blocks. Every push is checked: the manifest
// digest skopeo pushed (--digestfile) is the layout's and what `skopeo inspect` reads back. Both
// servers log each request (ipcr's JSON access log; distribution's "response completed" lines at
// info level, which a config without log.level, such as Debian's own, gets): the summary sums
// their durations by kind, to show where the time goes. On ipcr's side a blob's PUT (the commit)
// is answered before its IPFS add ends, and the manifest PUT waits for the adds still running, then
// makes and publishes the IPFS-enabled image.
import { execFileSync } from 'node:child_process'
import { mkdirSync, readFileSync } from 'node:fs'
import { rm } from 'node:fs/promises'
import { join } from 'node:path'
import { cpuSeconds, goSeconds, loadNow, median, peakMiB, resetPeak, startDistribution, startIpcrRegistry, timed } from './lib.mjs'

const BLOB_INFO_CACHE = '/var/lib/containers/cache'

/** `skopeo copy` of the layout to `ref`, its blob-info cache private and empty; timed. */
function skopeoCopy(layout, ref, digestFile) {
  return timed('unshare', [
    '--mount', '--propagation', 'private', 'sh', '-c', `mount -t tmpfs bench-blob-info-cache ${BLOB_INFO_CACHE} && exec "$@"`, 'sh',
    'skopeo', 'copy', '--quiet', '--insecure-policy', '--dest-tls-verify=false', '--preserve-digests', '--digestfile', digestFile, `oci:${layout}`, `docker://${ref}`,
  ])
}

/** The kind of a request: method and route ('PATCH upload', 'PUT manifest', …). */
function kindOf(method, path) {
  const route = /\/blobs\/uploads\//.test(path) ? 'upload' : /\/blobs\//.test(path) ? 'blob' : /\/manifests\//.test(path) ? 'manifest' : /^\/v2\/?$/.test(path) ? 'base' : 'other'
  return `${method} ${route}`
}

/** Per kind of request: how many, their summed and their longest duration (ms). */
function tally(requests) {
  const out = {}
  for (const { kind, ms } of requests) {
    const t = (out[kind] ??= { n: 0, sum: 0, max: 0 })
    t.n++
    t.sum += ms
    t.max = Math.max(t.max, ms)
  }
  return out
}

/** ipcr's access log (--log-format json) and the line its push of a tag logged. */
function ipcrLog(path) {
  const text = readFileSync(path, 'utf8')
  const requests = []
  for (const line of text.split('\n')) {
    if (!line.startsWith('{')) continue
    const e = JSON.parse(line)
    if (e.route !== undefined) requests.push({ kind: kindOf(e.method, new URL(e.url, 'http://x').pathname), ms: e.ms, status: e.status })
  }
  const m = /pushed (\S+) \((sha256:[0-9a-f]+)\): IPFS root (\S+), published as \/ipns\/(\S+)/.exec(text)
  return { requests, published: m && { ref: m[1], digest: m[2], root: m[3], ipns: m[4] } }
}

/** distribution's "response completed" lines. */
function distributionLog(path) {
  const requests = []
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    if (!line.includes('msg="response completed"')) continue
    const method = /http\.request\.method=(\S+)/.exec(line)?.[1]
    const uri = /http\.request\.uri="([^"]*)"/.exec(line)?.[1]
    const d = /http\.response\.duration=(\S+)/.exec(line)?.[1]
    const status = Number(/http\.response\.status=(\d+)/.exec(line)?.[1])
    if (method && uri && d) requests.push({ kind: kindOf(method, uri.split('?')[0]), ms: goSeconds(d) * 1000, status })
  }
  return { requests }
}

const ipfs = (args) => execFileSync('ipfs', args, { encoding: 'utf8', maxBuffer: 1 << 26 })
const recursivePins = () => new Set(ipfs(['pin', 'ls', '--type=recursive', '--quiet']).split('\n').filter(Boolean))

export async function benchPush({ img, rounds, work, load0, privateRig }) {
  const rigDir = process.env.IPCR_RIG_DIR
  const kuboPid = Number(readFileSync(join(rigDir, 'ipfs.pid'), 'utf8'))
  // The server's push history (IPCR_ROOT) stays in this run's directory, not the machine's.
  process.env.IPCR_ROOT = join(work, 'ipcr-root')
  mkdirSync(BLOB_INFO_CACHE, { recursive: true })
  const index = JSON.parse(readFileSync(join(img.dir, 'index.json'), 'utf8'))
  if (index.manifests.length !== 1) throw new Error(`${img.dir}: expected one manifest in index.json, found ${index.manifests.length}`)
  const expected = index.manifests[0].digest
  const pinsBefore = recursivePins()

  /** One push of the layout to `host`, checked; peaks of `pids`. */
  const pushTo = (who, host, pids, round) => {
    const ref = `${host}/${img.repo}-${round}:${round}`
    const digestFile = join(work, `digest-${who}-${round}`)
    pids.forEach(resetPeak)
    const cpu0 = pids.map(cpuSeconds)
    const r = skopeoCopy(img.dir, ref, digestFile)
    r.peaks = pids.map(peakMiB)
    r.cpus = pids.map((pid, i) => cpuSeconds(pid) - cpu0[i])
    const pushed = readFileSync(digestFile, 'utf8').trim()
    const served = JSON.parse(execFileSync('skopeo', ['inspect', '--tls-verify=false', `docker://${ref}`], { encoding: 'utf8' })).Digest
    if (pushed !== expected || served !== pushed) throw new Error(`${who}: skopeo pushed ${pushed} (the layout's manifest is ${expected}) and reads back ${served}`)
    return r
  }

  const push = {
    ipcr: async (round) => {
      const log = join(work, `ipcr-${round}.log`)
      const server = await startIpcrRegistry(log, ['--allow-push', '--storage', join(work, `ipcr-storage-${round}`), '--log-format', 'json'])
      let r
      try {
        r = pushTo('ipcr', server.host, [server.pid, kuboPid], round)
      } finally {
        await server.stop()
      }
      Object.assign(r, ipcrLog(log))
      if (!r.published || r.published.digest !== expected) throw new Error(`ipcr logged no IPFS-enabled image of ${expected} (log: ${log})`)
      if (privateRig) {
        // kubo back to holding none of this round's blocks (see the header).
        const t0 = Date.now()
        const mine = [...recursivePins()].filter((c) => !pinsBefore.has(c))
        if (mine.length > 0) ipfs(['pin', 'rm', ...mine])
        r.collected = ipfs(['repo', 'gc', '--quiet']).split('\n').filter(Boolean).length
        r.gcSeconds = (Date.now() - t0) / 1000
      }
      return r
    },
    distribution: async (round) => {
      const log = join(work, `distribution-${round}.log`)
      const dir = join(work, `distribution-${round}`)
      const dist = await startDistribution(dir, { log })
      let r
      try {
        r = pushTo('distribution', dist.host, [dist.pid], round)
      } finally {
        await dist.stop()
      }
      Object.assign(r, distributionLog(log))
      await rm(dir, { recursive: true, force: true })
      return r
    },
  }

  const runs = { ipcr: [], distribution: [] }
  const kinds = ['PATCH upload', 'PUT upload', 'PUT manifest']
  const brief = (t) => kinds.filter((k) => t[k]).map((k) => `${k} ${t[k].n}× ${t[k].sum.toFixed(0)} ms (longest ${t[k].max.toFixed(0)})`).join(', ')
  for (let i = 1; i <= rounds; i++) {
    for (const who of i % 2 === 1 ? ['distribution', 'ipcr'] : ['ipcr', 'distribution']) {
      const r = await push[who](i)
      r.tally = tally(r.requests)
      runs[who].push(r)
      const kubo = who === 'ipcr' ? ` (kubo ${r.peaks[1].toFixed(0)} MiB); root ${r.published.root}${r.gcSeconds !== undefined ? `; then gc dropped ${r.collected} blocks in ${r.gcSeconds.toFixed(1)} s` : ''}` : ''
      const cpu = `CPU s: server ${r.cpus[0].toFixed(2)}${who === 'ipcr' ? `, kubo ${r.cpus[1].toFixed(2)}` : ''}, skopeo ${r.cpu.toFixed(2)}`
      console.error(`  round ${i} ${who}: ${r.wall.toFixed(2)} s; ${cpu}; server peak RSS ${r.peaks[0].toFixed(0)} MiB${kubo}; ${brief(r.tally)}`)
    }
  }

  const med = (who, f) => median(runs[who].map(f))
  const list = (who) => runs[who].map((r) => r.wall.toFixed(2)).join(', ')
  const peak = (who, k) => Math.max(...runs[who].map((r) => r.peaks[k]))
  const o = med('ipcr', (r) => r.wall)
  const t = med('distribution', (r) => r.wall)
  const blobs = runs.ipcr[0].tally['PUT upload']?.n ?? 0
  console.log(`bench/registry --side push: ${img.what}, ${rounds} rounds, skopeo copy --preserve-digests oci:LAYOUT docker://HOST/${img.repo}-<round>:<round>, median wall time`)
  console.log(`  manifest ${expected}: pushed (skopeo --digestfile) and read back (skopeo inspect) from both, every round; ${blobs} blobs uploaded to ipcr each round`)
  console.log(`  fresh each round: both servers (process, storage, so ipcr's blob index), the repository, skopeo's blob-info cache; ${privateRig ? 'kubo\'s blocks (pins removed and repo gc after each ipcr round; kubo itself kept running)' : 'NOT kubo\'s blocks (a shared rig, IPCR_RIG_DIR: no gc), so later rounds\' adds find them held'}`)
  console.log(`  load average at start ${load0}, at end ${loadNow()} (2 cores)`)
  console.log(`  ipcr registry serve  ${o.toFixed(2)} s  (${list('ipcr')})   peak RSS ${peak('ipcr', 0).toFixed(0)} MiB (kubo ${peak('ipcr', 1).toFixed(0)} MiB)`)
  console.log(`  distribution         ${t.toFixed(2)} s  (${list('distribution')})   peak RSS ${peak('distribution', 0).toFixed(0)} MiB`)
  console.log(`  ratio ipcr/distribution = ${(o / t).toFixed(2)} (target <= 1.5: ${o / t <= 1.5 ? 'met' : 'NOT met'})`)
  const cpuOf = (who, k) => med(who, (r) => r.cpus[k]).toFixed(2)
  console.log(`  CPU seconds per push (medians): ipcr ${cpuOf('ipcr', 0)} + kubo ${cpuOf('ipcr', 1)} + skopeo ${med('ipcr', (r) => r.cpu).toFixed(2)}; distribution ${cpuOf('distribution', 0)} + skopeo ${med('distribution', (r) => r.cpu).toFixed(2)}`)
  // Blobs go up side by side, so summed request times overlap; the longest is on the critical path.
  const where = (who) => kinds.map((k) => {
    const sum = med(who, (r) => r.tally[k]?.sum ?? 0)
    const max = med(who, (r) => r.tally[k]?.max ?? 0)
    return `${k} ${sum.toFixed(0)} ms (longest ${max.toFixed(0)})`
  }).join(', ')
  console.log('  request time by kind, ms (medians over rounds; blobs go up side by side, so sums overlap):')
  console.log(`    ipcr          ${where('ipcr')}`)
  console.log(`    distribution  ${where('distribution')}`)
}
