#!/usr/bin/env node
// bench/cluster (issue 17): three nodes pull the realistic image through their own registry
// mirrors at the same time and run it, once with the image only on the origin (no cluster pins)
// and once replicated beforehand (--replication-min 2, pins reported pinned on two peers before
// the pulls start). One run of each.
//   node bench/cluster.mjs      (npm run build first; needs root: network namespaces, containerd)
//
// Each scenario gets fresh nodes: four network namespaces (src/testkit/cluster.ts) in which
// deploy/node.sh brings up kubo in a private network, an IPFS Cluster peer and `ipcr registry
// serve`, exactly as the e2e suite does (src/testkit/cluster-nodes.ts, shared with
// test/e2e/cluster.test.ts). The origin pushes bench.ipcr/python:3.11 (bench/realistic-image.mjs)
// with `ipcr i ipfs-push --ref`; n1, n2 and n3 each have a containerd of their own (`scripts/rig.sh
// up` run inside the node's network namespace) whose hosts.toml names only the node's registry for
// bench.ipcr. At t0 all three start `crictl pull bench.ipcr/python:3.11` (CRI, as a kubelet pulls)
// followed by `ctr run` of it (prints Hello, World!); the time is until the last of them has run.
//
// Bytes taken from the origin: the origin kubo's Bitswap ledger for each puller (`ipfs bitswap
// ledger PEER`, bytes of blocks sent), read before t0 and after the last run: block payload only,
// per receiving peer, and nothing but Bitswap. Beside it, what the origin's eth0 sent in all in that
// window (every protocol and peer, TCP/IP and libp2p framing included: the ledger's upper bound),
// and what each puller's Bitswap received from anyone (`ipfs stats bitswap`, DataReceived).
// Replication traffic (the second holder fetching its copy before t0) is printed on its own, and
// so is each node's slowest registry answer (from its access log), to tell transfer from unpack.
//
// Everything is torn down at the end, on failure, and on SIGINT/SIGTERM: the rigs (`rig.sh down`:
// containerd, its shims, snapshotter, mounts), the nodes (`deploy/node.sh down`) and the
// namespaces (which kills whatever is left in them).
import { execFileSync, spawn, spawnSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { readFileSync, writeFileSync } from 'node:fs'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createCluster } from '../dist/testkit/cluster.js'
import { clusterApi, clusterConverged, deployedNodes, kuboApi, registryUrl, until } from '../dist/testkit/cluster-nodes.js'
import { ensureRealisticImage, REALISTIC_NAME } from './realistic-image.mjs'
import { ipcrBin, loadNow, root } from './lib.mjs'

const rig = `${root}scripts/rig.sh`
const REF = REALISTIC_NAME // bench.ipcr/python:3.11
const HOST = REF.split('/')[0]
const PULLERS = ['n1', 'n2', 'n3']

const load0 = loadNow()
execFileSync('bash', [rig, 'install'], { stdio: ['ignore', 'ignore', 'inherit'] })
const image = await ensureRealisticImage()
const imageMiB = image.layerSizes.reduce((a, b) => a + b, 0) / 1048576
const work = await mkdtemp(join(tmpdir(), 'ipcr-bench-cluster-'))
// rig.sh up records its directory in a "current" file; ours is private, so other people's `rig.sh env` are unaffected.
const rigEnvBase = { ...process.env, IPCR_RIG_CURRENT: join(work, 'rig.current') }

/** What `scripts/rig.sh env DIR` exports. */
function rigEnvOf(dir) {
  const env = {}
  for (const line of execFileSync('bash', [rig, 'env', dir], { encoding: 'utf8', env: rigEnvBase }).split('\n')) {
    const m = /^export ([A-Z_0-9]+)='(.*)'$/.exec(line)
    if (m) env[m[1]] = m[2]
  }
  return env
}

/** Commands running now: killed first when the bench is interrupted, so none goes on writing. */
const inFlight = new Set()
/** Run to completion; throw with the output on a non-zero exit. */
async function must(cmd, args, opts = {}) {
  const r = await new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env: { ...process.env, ...opts.env }, stdio: ['ignore', 'pipe', 'pipe'] })
    inFlight.add(child)
    let out = ''
    let err = ''
    child.stdout.on('data', (d) => { out += d })
    child.stderr.on('data', (d) => { err += d })
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 300_000)
    child.on('error', (e) => { clearTimeout(timer); inFlight.delete(child); reject(e) })
    child.on('close', (code, signal) => { clearTimeout(timer); inFlight.delete(child); resolve({ code, signal, stdout: out, stderr: err }) })
  })
  if (r.code !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.code ?? r.signal}\n${r.stdout}${r.stderr}`)
  return r.stdout
}

// ---- cleanup, whatever happens ----------------------------------------------------------------
const cleanups = []
let stopping = false
/** Undo `f` at the end (last registered, first run); once the bench is stopping, nothing new starts. */
function onCleanup(f) {
  if (stopping) throw new Error('bench/cluster is stopping')
  cleanups.push(f)
}
let cleaning
function cleanup() {
  cleaning ??= (async () => {
    for (const f of cleanups.splice(0).reverse()) {
      try { await f() } catch (err) { console.error(`  cleanup: ${err.message}`) }
    }
  })()
  return cleaning
}
let finishing
/**
 * Once, from the normal end or a signal: the commands running now killed, everything down, the
 * work directory gone, and a word if any of our namespaces is left.
 */
function finish() {
  finishing ??= (async () => {
    stopping = true
    for (const c of inFlight) c.kill('SIGKILL')
    await cleanup()
    await rm(work, { recursive: true, force: true, maxRetries: 5 })
    const left = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout.split('\n').filter((l) => l.startsWith(`ipcr-${process.pid}-`))
    if (left.length) console.error(`bench/cluster: namespaces left behind: ${left.join(', ')}`)
  })()
  return finishing
}
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.once(sig, () => { console.error(`bench/cluster: ${sig}, cleaning up`); void finish().finally(() => process.exit(130)) })
}

// ---- one scenario -----------------------------------------------------------------------------
async function scenario(label, replicated) {
  const dir = join(work, label)
  const swarmKey = join(work, 'swarm.key')
  await writeFile(swarmKey, (await must(ipcrBin, ['ipfs', 'swarm-key'])).trim() + '\n', { mode: 0o600 })
  const net = await createCluster({ nodes: ['origin', ...PULLERS], kubo: false, dir })
  onCleanup(() => net.destroy())
  const [origin, ...pullers] = net.nodes
  // The rigs give each puller its containerd; their env also names the rig's kubo and cluster binaries.
  const rigs = new Map()
  await Promise.all(pullers.map(async (n) => {
    const rigDir = join(dir, `${n.name}-rig`)
    onCleanup(() => must('bash', [rig, 'down', rigDir], { env: rigEnvBase }).catch((err) => console.error(`  rig down ${n.name}: ${err.message}`)))
    // nsenter --net, not `ip netns exec`: only the network namespace changes. `ip netns exec` would
    // also give containerd a mount namespace of its own, with a fresh /sys and no cgroup mounts.
    await must('nsenter', [`--net=/run/netns/${n.netns}`, 'bash', rig, 'up', rigDir], { env: rigEnvBase })
    rigs.set(n.name, rigEnvOf(rigDir))
  }))
  const anyRig = rigs.get(pullers[0].name)
  const kuboBin = join(anyRig.IPCR_RIG_BIN.split(':')[0], 'ipfs')
  const bins = { ipfs: kuboBin, clusterService: anyRig.IPCR_RIG_CLUSTER_SERVICE, ipcr: ipcrBin }
  const nodes = deployedNodes({ work: dir, swarmKey, secret: randomBytes(32).toString('hex'), bins, monitorInterval: '2s' })
  for (const n of net.nodes) onCleanup(() => nodes.down(n).catch(() => {}))
  const tUp = performance.now()
  const upSoFar = []
  for (const n of net.nodes) {
    await nodes.up(n, [...upSoFar])
    upSoFar.push(n)
  }
  await clusterConverged(origin, net.nodes.length)
  const upSeconds = (performance.now() - tUp) / 1000
  const kuboId = (n) => nodes.ids.get(n.name).kubo
  const ipfsAt = (n, args) => must(kuboBin, ['--api', kuboApi(n), ...args])
  const ledgerSent = async () => Object.fromEntries(await Promise.all(pullers.map(async (p) =>
    [p.name, JSON.parse(await ipfsAt(origin, ['bitswap', 'ledger', '--enc=json', kuboId(p)])).Sent])))
  const received = async () => Object.fromEntries(await Promise.all(pullers.map(async (p) =>
    [p.name, JSON.parse(await ipfsAt(p, ['stats', 'bitswap', '--enc=json'])).DataReceived])))
  const originTx = () => JSON.parse(execFileSync('ip', ['-n', origin.netns, '-s', '-j', 'link', 'show', 'eth0'], { encoding: 'utf8' }))[0].stats64.tx.bytes

  // Each puller's containerd pulls bench.ipcr only through the node's own registry; the upstream does not answer.
  for (const p of pullers) {
    const certsD = rigs.get(p.name).IPCR_RIG_CERTS_D
    await must(ipcrBin, ['registry', 'hosts', HOST, '--dir', certsD, '--mirror', registryUrl(p)])
    const file = join(certsD, HOST, 'hosts.toml')
    writeFileSync(file, readFileSync(file, 'utf8').replace(`server = "https://${HOST}"`, 'server = "http://127.0.0.1:9"'))
  }

  const ledger0 = await ledgerSent()
  const cliEnv = { IPCR_ROOT: join(dir, 'origin-cli') }
  const pushArgs = ['--ipfs-api', kuboApi(origin), 'i', 'ipfs-push', '--estargz=false', '--json', '--ref', REF,
    ...(replicated ? ['--cluster', clusterApi(origin), '--replication-min', '2'] : []), `oci-layout:${image.layoutDir}`]
  const tPush = performance.now()
  const pushed = JSON.parse(await must(ipcrBin, pushArgs, { env: cliEnv }))
  const pushSeconds = (performance.now() - tPush) / 1000
  let holders = 'origin only (no cluster pins)'
  let replicateSeconds = 0
  if (replicated) {
    const status = () => must(ipcrBin, ['--ipfs-api', kuboApi(origin), 'cluster', 'status', '--cluster', clusterApi(origin), '--json', REF], { env: cliEnv }).then(JSON.parse)
    const copies = (s) => s.peers.reduce((n, p) => n + (p.states.pinned ?? 0), 0)
    let last
    const done = await until('every CID pinned on two peers', 300_000, async () => {
      last = await status()
      return copies(last) === 2 * last.cids.length ? last : undefined
    }).catch((err) => { throw new Error(`${err.message}; last status ${JSON.stringify(last)}`) })
    replicateSeconds = done.seconds
    holders = done.value.peers.filter((p) => p.states.pinned).map((p) => `${p.peername} (${p.states.pinned}/${done.value.cids.length} CIDs)`).join(', ')
  }
  const ledger1 = await ledgerSent()
  const replicationBytes = PULLERS.reduce((n, p) => n + ledger1[p] - ledger0[p], 0)

  // ---- the pulls: all three at once --------------------------------------------------------
  const recv0 = await received()
  const tx0 = originTx()
  const t0 = performance.now()
  const results = await Promise.all(pullers.map(async (p, i) => {
    const env = rigs.get(p.name)
    const sock = env.CONTAINERD_ADDRESS
    await must(join(env.IPCR_RIG_BIN.split(':')[2], 'crictl'), ['--runtime-endpoint', `unix://${sock}`, '--image-endpoint', `unix://${sock}`, 'pull', REF], { env: { CRI_CONFIG_FILE: env.CRI_CONFIG_FILE } })
    const pulled = (performance.now() - t0) / 1000
    const out = await must('ctr', ['--address', sock, '-n', 'k8s.io', 'run', '--rm', '--snapshotter', 'overlayfs', REF, `bench-cluster-${process.pid}-${i}`])
    if (out.trim() !== 'Hello, World!') throw new Error(`${p.name}: the container printed ${JSON.stringify(out)}`)
    return { name: p.name, pulled, ran: (performance.now() - t0) / 1000 }
  }))
  const all = (performance.now() - t0) / 1000
  const tx = originTx() - tx0
  const ledger2 = await ledgerSent()
  const recv1 = await received()
  const registryHits = pullers.map((p) => (readFileSync(join(nodes.stateDir(p), 'registry.log'), 'utf8').match(/"GET \/v2\/python\/blobs\/sha256:[0-9a-f]{64}\?ns=bench\.ipcr" 200/g) ?? []).length)
  // The slowest answer of each node's registry (its access log: "METHOD URL" STATUS BYTES MSms): a
  // straggler's time is then seen to go to a blob (fetched over Bitswap) or to the tag (IPNS).
  const slowest = Object.fromEntries(pullers.map((p) => {
    let worst = { ms: -1, what: '' }
    for (const m of readFileSync(join(nodes.stateDir(p), 'registry.log'), 'utf8').matchAll(/"(\w+) \/v2\/python\/(manifests|blobs)\/([^?" ]+)[^"]*" (\d+) \d+ ([\d.]+)ms/g)) {
      const ms = Number(m[5])
      if (ms > worst.ms) worst = { ms, what: `${m[1]} ${m[2]}/${m[3].replace(/^sha256:(.{12}).*/, '$1…')} ${m[4]}` }
    }
    return [p.name, worst.ms < 0 ? 'none' : `${(worst.ms / 1000).toFixed(2)} s (${worst.what})`]
  }))
  if (registryHits.some((h) => h === 0)) throw new Error(`a puller's registry served no blobs (${registryHits.join(', ')}): the pull did not go through it`)

  const containerd = execFileSync('ctr', ['--address', anyRig.CONTAINERD_ADDRESS, 'version'], { encoding: 'utf8' }).match(/Server:\s+Version:\s+(\S+)/)?.[1] ?? '?'
  await cleanup() // this scenario's nodes, rigs and namespaces, before the next one starts
  cleaning = undefined
  return {
    label, kubo: execFileSync(kuboBin, ['version', '--number'], { encoding: 'utf8' }).trim(), upSeconds, pushSeconds, replicateSeconds, holders, replicationBytes, all, tx, containerd, root: pushed.root,
    nodes: results.map((r) => ({ ...r, fromOrigin: ledger2[r.name] - ledger1[r.name], slowest: slowest[r.name], received: recv1[r.name] - recv0[r.name] })),
  }
}

const mib = (b) => (b / 1048576).toFixed(1)
try {
  const runs = []
  for (const [label, replicated] of [['origin-only', false], ['replicated', true]]) {
    console.error(`bench/cluster: ${label}…`)
    const r = await scenario(label, replicated)
    console.error(`  ${label}: all three ran it ${r.all.toFixed(2)} s after t0; origin sent ${mib(r.nodes.reduce((n, x) => n + x.fromOrigin, 0))} MiB by Bitswap`)
    runs.push(r)
  }
  const [o, rep] = runs
  console.log(`bench/cluster: ${REF} (${image.layers.length} gzip layers, ${imageMiB.toFixed(1)} MiB), three nodes pull through their own registry mirrors at once (crictl pull, then ctr run), one run each`)
  console.log(`  four network namespaces, nodes by deploy/node.sh (kubo ${o.kubo}, IPFS Cluster 1.1.6, --monitor-interval 2s); containerd ${o.containerd} per puller; root CID ${o.root}`)
  console.log(`  load average at start ${load0}, at end ${loadNow()} (2 cores)`)
  console.log(`  replicated: pins on ${rep.holders}, pinned twice ${rep.replicateSeconds.toFixed(1)} s after the push (${mib(rep.replicationBytes)} MiB from the origin by Bitswap for it, before t0)`)
  console.log('')
  console.log('  | scenario | node | pulled at | ran at | from the origin (Bitswap) | received from anyone (Bitswap) | its registry\'s slowest answer |')
  console.log('  | --- | --- | --- | --- | --- | --- | --- |')
  for (const r of runs) {
    for (const n of r.nodes) console.log(`  | ${r.label} | ${n.name} | ${n.pulled.toFixed(2)} s | ${n.ran.toFixed(2)} s | ${mib(n.fromOrigin)} MiB | ${mib(n.received)} MiB | ${n.slowest} |`)
    const sum = r.nodes.reduce((a, n) => a + n.fromOrigin, 0)
    console.log(`  | ${r.label} | all three | | **${r.all.toFixed(2)} s** | ${mib(sum)} MiB (origin eth0 sent ${mib(r.tx)} MiB in all) | ${mib(r.nodes.reduce((a, n) => a + n.received, 0))} MiB | |`)
  }
  console.log('')
  const sumOf = (r) => r.nodes.reduce((a, n) => a + n.fromOrigin, 0)
  console.log(`  ratio replicated/origin-only: time until all three run it ${(rep.all / o.all).toFixed(2)}, bytes from the origin ${(sumOf(rep) / sumOf(o)).toFixed(2)} (${(sumOf(rep) / (image.layerSizes.reduce((a, b) => a + b, 0))).toFixed(2)} vs ${(sumOf(o) / (image.layerSizes.reduce((a, b) => a + b, 0))).toFixed(2)} image's worth)`)
  console.log(`  counting the replication before t0 as well, the origin sent ${mib(sumOf(rep) + rep.replicationBytes)} MiB replicated vs ${mib(sumOf(o))} MiB origin-only (${((sumOf(rep) + rep.replicationBytes) / sumOf(o)).toFixed(2)})`)
} finally {
  await finish()
}
