#!/usr/bin/env node
// bench/p2p: pulling the realistic image (bench/realistic-image.mjs) in a private two-node IPFS network
// made of network namespaces (src/testkit/cluster.ts), in one run:
//   (1) from a peer versus from the origin node: ipcr on the peer node, whose kubo fetches every block
//       from the origin over bitswap, against ipcr on the origin node, whose kubo has every block;
//   (2) through the origin's trustless gateway (rpull --gateway, no kubo API) versus kubo's `cat` (rpull
//       --ipfs-api) on the same node and data.
// Each is measured twice: as a full `rpull --snapshotter=overlayfs` into a fresh containerd (the rig's),
// and as the bare transfer of every layer blob (read, hashed, discarded; no containerd). Every peer
// measurement uses a peer node of its own that has never held the image (kubo 0.38's bitswap is not
// dependable across many gc-and-fetch cycles on one node: ipfs/boxo#1163). Alternating order, medians.
//   node bench/p2p.mjs [--rounds N] [--image realistic|random] [--size-mib N]
//     (npm run build first; needs root: network namespaces and the rig)
import { createHash } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { spawnSync } from 'node:child_process'
import { parseArgs } from 'node:util'
import { createCluster } from '../dist/testkit/cluster.js'
import { writeRandomImage } from '../dist/testkit/index.js'
import { newSwarmKey } from '../dist/ipfs/swarm-key.js'
import { KuboClient } from '../dist/ipfs/kubo.js'
import { GatewayIpfs } from '../dist/ipfs/gateway.js'
import { parseCid } from '../dist/ipfs/cid.js'
import { ensureRealisticImage } from './realistic-image.mjs'
import { ipcrBin, median, rigUp, root, timed } from './lib.mjs'

const { values } = parseArgs({ options: {
  rounds: { type: 'string', default: '5' },
  image: { type: 'string', default: 'realistic' },
  'size-mib': { type: 'string', default: '256' },
} })
const rounds = Number(values.rounds)
/** A pull that takes longer than this has hung: fail rather than wait forever. */
const limitS = 300
const work = await mkdtemp(join(tmpdir(), 'bench-p2p-'))
let layout
let label
if (values.image === 'random') {
  const img = await writeRandomImage(join(work, 'layout'), { layerSize: Number(values['size-mib']) << 20, seed: 'bench-p2p', name: 'bench.ipcr/random:p2p' })
  layout = img.dir
  label = `random ${values['size-mib']} MiB single-layer image`
} else {
  const img = await ensureRealisticImage()
  layout = img.layoutDir
  label = `realistic image ${img.name} (${img.layers.length} layers, ${(img.layerSizes.reduce((a, b) => a + b, 0) / 2 ** 20).toFixed(1)} MiB compressed)`
}

const down = rigUp()
const rigDir = process.env.IPCR_RIG_DIR
const ipfsBin = join(process.env.IPCR_RIG_BIN.split(':')[0], 'ipfs')
const noKubo = { IPFS_PATH: join(work, 'no-ipfs'), IPCR_ROOT: join(work, 'root') }
const peers = Array.from({ length: 2 * rounds }, (_, i) => `peer${i}`)
const cluster = await createCluster({ nodes: ['origin', ...peers], ipfsBin, swarmKey: newSwarmKey() })

function wipe() {
  for (let attempt = 1; ; attempt++) {
    const r = spawnSync('bash', [`${root}scripts/rig.sh`, 'wipe', rigDir], { encoding: 'utf8' })
    if (r.status === 0) return
    if (attempt === 3) throw new Error(`rig wipe failed 3 times:\n${r.stderr}`)
  }
}

/** Read a blob to the end through a backend, check its digest, and return the seconds it took. */
async function transfer(backend, blobs) {
  const t0 = performance.now()
  for (const b of blobs) {
    const h = createHash('sha256')
    for await (const chunk of backend.cat(parseCid(b.cid), { signal: AbortSignal.timeout(limitS * 1000) })) h.update(chunk)
    if (`sha256:${h.digest('hex')}` !== b.digest) throw new Error(`${b.digest}: wrong bytes through ${backend.description}`)
  }
  return (performance.now() - t0) / 1000
}

try {
  const origin = cluster.node('origin')
  /** A peer that has never held the image, joined to the origin and proven to get blocks from it. */
  const freshPeer = async () => {
    const peer = cluster.node(peers.shift())
    await cluster.connectAll(['origin', peer.name])
    return peer
  }
  const pushed = timed(ipcrBin, ['--ipfs-api', origin.api, 'i', 'ipfs-push', '--estargz=false', '--ipns=false', '--json', `oci-layout:${layout}`], { env: noKubo })
  const { root: cid, blobs } = JSON.parse(pushed.stdout)
  const layers = blobs.filter((b) => /layer/.test(b.mediaType))
  console.error(`  pushed ${label} to the origin in ${pushed.wall.toFixed(1)} s: ${cid}`)

  const ipcr = (...args) => timed('timeout', ['--kill-after=10', String(limitS), ipcrBin, ...args], { env: noKubo }).wall
  const pull = {
    origin: async () => ipcr('--ipfs-api', origin.api, 'i', 'rpull', '--snapshotter=overlayfs', '--pin=false', '--ipfs', cid),
    peer: async () => {
      const peer = await freshPeer()
      try { return ipcr('--ipfs-api', peer.api, 'i', 'rpull', '--snapshotter=overlayfs', '--pin=false', '--ipfs', cid) } finally { await peer.stop() }
    },
    gateway: async () => ipcr('i', 'rpull', '--snapshotter=overlayfs', '--gateway', origin.gateway, '--ipfs', cid),
  }
  const originKubo = new KuboClient(origin.apiUrl)
  const originGateway = new GatewayIpfs([origin.gateway])
  const move = {
    origin: () => transfer(originKubo, layers),
    peer: async () => {
      const peer = await freshPeer()
      const kubo = new KuboClient(peer.apiUrl)
      try { return await transfer(kubo, layers) } finally { await kubo.close(); await peer.stop() }
    },
    gateway: () => transfer(originGateway, layers),
  }
  const keys = ['origin', 'peer', 'gateway']
  const results = { rpull: Object.fromEntries(keys.map((k) => [k, []])), transfer: Object.fromEntries(keys.map((k) => [k, []])) }
  for (let i = 0; i < rounds; i++) {
    const order = i % 2 === 0 ? keys : [...keys].reverse()
    for (const k of order) {
      wipe()
      results.rpull[k].push(await pull[k]())
      results.transfer[k].push(await move[k]())
      console.error(`  round ${i + 1} ${k}: rpull ${results.rpull[k].at(-1).toFixed(2)} s, transfer ${results.transfer[k].at(-1).toFixed(2)} s`)
    }
  }
  await Promise.all([originKubo.close(), originGateway.close()])

  const m = (kind, k) => median(results[kind][k])
  const mib = layers.reduce((a, b) => a + b.size, 0) / 2 ** 20
  console.log(`bench/p2p: ${label}, ${rounds} rounds, median seconds (layers: ${mib.toFixed(1)} MiB)`)
  console.log('                                   rpull (full, overlayfs)   transfer of the layers')
  const row = (name, k) => console.log(`  ${name.padEnd(33)}${m('rpull', k).toFixed(2).padStart(8)} s${''.padEnd(16)}${m('transfer', k).toFixed(2).padStart(8)} s  (${(mib / m('transfer', k)).toFixed(0)} MiB/s)`)
  row('origin node, kubo cat', 'origin')
  row('peer node (bitswap from origin)', 'peer')
  row('origin gateway (trustless, CAR)', 'gateway')
  console.log(`  ratio peer/origin:          rpull ${(m('rpull', 'peer') / m('rpull', 'origin')).toFixed(2)}   transfer ${(m('transfer', 'peer') / m('transfer', 'origin')).toFixed(2)}`)
  console.log(`  ratio gateway/kubo cat:     rpull ${(m('rpull', 'gateway') / m('rpull', 'origin')).toFixed(2)}   transfer ${(m('transfer', 'gateway') / m('transfer', 'origin')).toFixed(2)}`)
} finally {
  await cluster.destroy()
  await rm(work, { recursive: true, force: true })
  down()
}
