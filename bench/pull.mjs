#!/usr/bin/env node
// bench/pull: pulling the realistic image (bench/realistic-image.mjs: Debian bookworm minbase +
// python3, 3 gzip layers) out of kubo into containerd, ipcr vs ctr-remote, in one run.
//   node bench/pull.mjs [--rounds N] [--run-rounds N] [--containerd 1|2]   (npm run build first; needs root)
//
// --containerd 2 runs both tools against containerd 2.x (built by scripts/rig.sh) instead of
// Debian's 1.6: its overlayfs can rebase snapshots, so ipcr applies the layers side by side
// (src/pull/unpack-parallel.ts); ctr-remote's client unpacks them one after another either way.
//
// The image is pushed once by ipcr with --estargz=false (CID_PLAIN) and once with eStargz
// (CID_ESGZ). Every pull starts from a fresh containerd and snapshotter (`scripts/rig.sh wipe`;
// kubo keeps its blocks), so nothing is already present.
//  (a) full pull: `ipcr i rpull --snapshotter=overlayfs --ipfs CID_PLAIN` vs
//      `ctr-remote i rpull --snapshotter=overlayfs --ipfs CID_PLAIN`; alternating order, median
//      wall time; target (issue 4): ours/ctr-remote <= 1.0.
//  (b) time to first output: from the start of the pull to the first byte `ctr run --rm` of
//      `python3 /app/hello.py` prints, after a lazy pull (`ipcr i rpull --snapshotter=stargz --ipfs
//      CID_ESGZ`, run on stargz) vs after a full pull (overlayfs, CID_PLAIN; run on overlayfs).
//      ctr-remote's own rpull in both modes, and a full pull of CID_ESGZ, are printed for reference.
// Most of a full pull is containerd's Diff.Apply, the same work whichever tool asks. So (a) also
// prints each pull less the Apply time containerd logged for it (`diff applied`, debug level): what
// the tools themselves spend, starting, fetching and writing. containerd's root is a journaled ext4
// of its own (IPCR_RIG_CONTAINERD_FS below); on the VM's journal-less root the Apply took 3.5-10 s
// instead of ~2 s and drifted from round to round.
import { execFileSync, spawn, spawnSync } from 'node:child_process'
import { readFileSync, statSync } from 'node:fs'
import { loadavg } from 'node:os'
import { performance } from 'node:perf_hooks'
import { parseArgs } from 'node:util'
import { ensureRealisticImage } from './realistic-image.mjs'
import { ipcrBin, median, rigUp, root, timed } from './lib.mjs'

const { values } = parseArgs({ options: { rounds: { type: 'string', default: '5' }, 'run-rounds': { type: 'string', default: '3' }, containerd: { type: 'string', default: '1' } } })
const rounds = Number(values.rounds)
const runRounds = Number(values['run-rounds'])
const img = await ensureRealisticImage()
// Before the rig starts: every wipe then makes containerd a fresh journaled ext4 (rig.sh start_containerd).
process.env.IPCR_RIG_CONTAINERD_FS = 'ext4'
process.env.IPCR_RIG_CONTAINERD = values.containerd
const down = rigUp()
const address = process.env.CONTAINERD_ADDRESS
const rigDir = process.env.IPCR_RIG_DIR
const ctr = (...args) => execFileSync('ctr', ['-a', address, ...args], { encoding: 'utf8' })
// Every wipe restarts containerd; at debug level it logs how long each Diff.Apply took.
process.env.IPCR_RIG_CONTAINERD_LOG_LEVEL = 'debug'
const containerdLog = process.env.IPCR_RIG_CONTAINERD_LOG

/** Seconds in a Go duration such as "1m2.5s", "965.39ms" or "812µs". */
function goSeconds(text) {
  const unit = { h: 3600, m: 60, s: 1, ms: 1e-3, us: 1e-6, 'µs': 1e-6, ns: 1e-9 }
  let total = 0
  for (const [, n, u] of text.matchAll(/([0-9.]+)(h|ms|m|s|us|µs|ns)/g)) total += Number(n) * unit[u]
  return total
}

/** Seconds of Diff.Apply that containerd logged past byte `from` of its log. */
function applySeconds(from) {
  const text = readFileSync(containerdLog, 'utf8').slice(from)
  let total = 0
  for (const [, d] of text.matchAll(/msg="diff applied" d=([^ ]+)/g)) total += goSeconds(d)
  return total
}
const logSize = () => statSync(containerdLog).size

/** Fresh containerd + snapshotter state (kubo kept). Retried: on a loaded machine a restart can time out. */
function wipe() {
  for (let attempt = 1; ; attempt++) {
    const r = spawnSync('bash', [`${root}scripts/rig.sh`, 'wipe', rigDir], { encoding: 'utf8' })
    if (r.status === 0) return
    const why = r.stderr.split('\n').filter((l) => l.startsWith('rig:')).join('\n')
    if (attempt === 3) throw new Error(`rig wipe failed 3 times:\n${why}`)
    console.warn(`  rig wipe failed (attempt ${attempt}), retrying:\n${why}`)
  }
}

const pullers = {
  ipcr: (cid, snapshotter) => timed(ipcrBin, ['i', 'rpull', `--snapshotter=${snapshotter}`, '--json', '--ipfs', cid]),
  'ctr-remote': (cid, snapshotter) => timed('ctr-remote', ['-a', address, 'i', 'rpull', `--snapshotter=${snapshotter}`, '--ipfs', cid]),
}

/** Start `ctr run --rm` and resolve with the time its first stdout byte arrives (and all of its output). */
function runToFirstOutput(cid, snapshotter, id) {
  return new Promise((resolve, reject) => {
    const child = spawn('ctr', ['-a', address, 'run', '--rm', `--snapshotter=${snapshotter}`, cid, id, 'python3', '/app/hello.py'], { stdio: ['ignore', 'pipe', 'pipe'] })
    let first
    let out = ''
    let err = ''
    child.stdout.on('data', (d) => { first ??= performance.now(); out += d })
    child.stderr.on('data', (d) => { err += d })
    child.on('error', reject)
    child.on('close', (code) => {
      if (code !== 0 || first === undefined) reject(new Error(`ctr run ${cid} exited ${code}: ${err}${out}`))
      else resolve({ first, out: out.trim() })
    })
  })
}

/** Wipe, pull, run: seconds from the pull's start to the run's first output. */
async function pullThenRun(who, cid, snapshotter, label) {
  wipe()
  const t0 = performance.now()
  const pull = pullers[who](cid, snapshotter)
  const pulled = performance.now()
  const { first, out } = await runToFirstOutput(cid, snapshotter, `bench-${label}-${Date.now()}`)
  if (out !== 'Hello, World!') throw new Error(`${label}: unexpected output ${JSON.stringify(out)}`)
  // What the pull left in the content store: a lazy pull fetches manifest and config only.
  const blobs = ctr('content', 'ls', '-q').split('\n').filter(Boolean).length
  return { total: (first - t0) / 1000, pull: (pulled - t0) / 1000, run: (first - pulled) / 1000, blobs, stdout: pull.stdout }
}

const load0 = loadavg().map((l) => l.toFixed(1)).join(' ')
try {
  if (!ctr('images', 'ls', '-q').split('\n').includes(img.name)) {
    execFileSync('ctr', ['-a', address, 'images', 'import', img.tarPath], { stdio: ['ignore', 'ignore', 'inherit'] })
  }
  const plain = timed(ipcrBin, ['i', 'ipfs-push', '--estargz=false', img.name]).stdout.split('\n').pop()
  const esgz = timed(ipcrBin, ['i', 'ipfs-push', img.name]).stdout.split('\n').pop()
  console.error(`  pushed ${img.name}: plain ${plain}, eStargz ${esgz}`)

  // (a) full pull, overlayfs, fresh containerd each time.
  const full = { ipcr: [], 'ctr-remote': [] }
  for (let i = 0; i < rounds; i++) {
    const order = i % 2 === 0 ? ['ctr-remote', 'ipcr'] : ['ipcr', 'ctr-remote']
    for (const who of order) {
      wipe()
      const from = logSize()
      const r = pullers[who](plain, 'overlayfs')
      r.apply = applySeconds(from)
      if (r.apply === 0) throw new Error(`containerd logged no "diff applied" for ${who}'s pull: is it at debug level?`)
      full[who].push(r)
      console.error(`  (a) round ${i + 1} ${who}: ${r.wall.toFixed(2)} s, of which containerd's Apply ${r.apply.toFixed(2)} s`)
    }
  }
  // The last pull must have produced a runnable image.
  const check = await runToFirstOutput(plain, 'overlayfs', `bench-check-${Date.now()}`)
  if (check.out !== 'Hello, World!') throw new Error(`full pull: unexpected output ${JSON.stringify(check.out)}`)

  // (b) time to first output: lazy vs full, ours first, ctr-remote's for reference.
  const cases = [
    { key: 'ipcr lazy (stargz, eStargz CID)', who: 'ipcr', cid: esgz, sn: 'stargz' },
    { key: 'ipcr full (overlayfs, plain CID)', who: 'ipcr', cid: plain, sn: 'overlayfs' },
    { key: 'ipcr full (overlayfs, eStargz CID)', who: 'ipcr', cid: esgz, sn: 'overlayfs' },
    { key: 'ctr-remote lazy (stargz, eStargz CID)', who: 'ctr-remote', cid: esgz, sn: 'stargz' },
    { key: 'ctr-remote full (overlayfs, plain CID)', who: 'ctr-remote', cid: plain, sn: 'overlayfs' },
  ]
  const ttfo = new Map(cases.map((c) => [c.key, []]))
  for (let i = 0; i < runRounds; i++) {
    const order = i % 2 === 0 ? cases : [...cases].reverse()
    for (const c of order) {
      const r = await pullThenRun(c.who, c.cid, c.sn, c.who)
      if (c.who === 'ipcr') {
        const layers = JSON.parse(r.stdout).layers
        if (c.sn === 'stargz' && layers.remote !== img.layers.length) console.warn(`  warning: ${c.key}: only ${layers.remote} of ${img.layers.length} layers mounted lazily (${JSON.stringify(layers)})`)
      }
      ttfo.get(c.key).push(r)
      console.error(`  (b) round ${i + 1} ${c.key}: pull ${r.pull.toFixed(2)} s + run ${r.run.toFixed(2)} s = ${r.total.toFixed(2)} s, ${r.blobs} blobs in content store`)
    }
  }

  const mib = (n) => (n / 1048576).toFixed(1)
  const o = median(full.ipcr.map((r) => r.wall))
  const t = median(full['ctr-remote'].map((r) => r.wall))
  const rss = Math.max(...full.ipcr.map((r) => r.rssMiB))
  console.log(`bench/pull: ${img.name} (${img.layers.length} layers, ${mib(img.layerSizes.reduce((a, b) => a + b, 0))} MiB gzip)`)
  console.log(`  plain CID ${plain}`)
  console.log(`  eStargz CID ${esgz}`)
  const serverVersion = execFileSync('ctr', ['-a', address, 'version'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] })
  console.log(`  containerd ${serverVersion.match(/Server:\s+Version:\s+(\S+)/)?.[1] ?? 'unknown'} (rig target ${process.env.IPCR_RIG_CONTAINERD})`)
  console.log(`  load average at start ${load0}, at end ${loadavg().map((l) => l.toFixed(1)).join(' ')} (2 cores)`)
  console.log(`(a) full pull into overlayfs on a fresh containerd, ${rounds} rounds, median wall time`)
  console.log(`  ipcr        ${o.toFixed(2)} s   (${full.ipcr.map((r) => r.wall.toFixed(2)).join(', ')})   peak RSS ${rss.toFixed(0)} MiB`)
  console.log(`  ctr-remote  ${t.toFixed(2)} s   (${full['ctr-remote'].map((r) => r.wall.toFixed(2)).join(', ')})   peak RSS ${Math.max(...full['ctr-remote'].map((r) => r.rssMiB)).toFixed(0)} MiB`)
  console.log(`  ipcr's unpack: ${[...new Set(full.ipcr.map((r) => JSON.parse(r.stdout).unpack))].join(', ')} (layers side by side only where the snapshotter can rebase)`)
  console.log(`  ratio ipcr/ctr-remote = ${(o / t).toFixed(2)} (target <= 1.0: ${o / t <= 1 ? 'met' : 'NOT met'})`)
  const own = (who) => full[who].map((r) => r.wall - r.apply)
  const oo = median(own('ipcr'))
  const ot = median(own('ctr-remote'))
  console.log(`  less containerd's Diff.Apply (median Apply: ipcr's pulls ${median(full.ipcr.map((r) => r.apply)).toFixed(2)} s, ctr-remote's ${median(full['ctr-remote'].map((r) => r.apply)).toFixed(2)} s):`)
  console.log(`    ipcr ${oo.toFixed(2)} s (${own('ipcr').map((x) => x.toFixed(2)).join(', ')}), ctr-remote ${ot.toFixed(2)} s (${own('ctr-remote').map((x) => x.toFixed(2)).join(', ')}), ratio ${(oo / ot).toFixed(2)}`)
  console.log(`(b) time to first output of ctr run python3 /app/hello.py, from the start of the pull, ${runRounds} rounds, medians`)
  const med = {}
  for (const c of cases) {
    const rs = ttfo.get(c.key)
    med[c.key] = median(rs.map((r) => r.total))
    console.log(`  ${c.key.padEnd(40)} ${med[c.key].toFixed(2)} s  (pull ${median(rs.map((r) => r.pull)).toFixed(2)} s + run ${median(rs.map((r) => r.run)).toFixed(2)} s; ${rs[0].blobs} blobs in content store)`)
  }
  const lazy = med[cases[0].key]
  const fullT = med[cases[1].key]
  console.log(`  ipcr lazy / ipcr full = ${(lazy / fullT).toFixed(2)}   (ctr-remote lazy / ctr-remote full = ${(med[cases[3].key] / med[cases[4].key]).toFixed(2)}; ipcr lazy / ctr-remote lazy = ${(lazy / med[cases[3].key]).toFixed(2)})`)
} finally {
  down()
}
