#!/usr/bin/env node
// bench/convert: `ipcr i convert --estargz` vs `ctr-remote i convert --estargz --oci` on the same
// realistic image (bench/realistic-image.mjs: Debian bookworm minbase + python3, 3 gzip layers)
// in the same containerd, in one run. Prints the median wall-time ratio and our peak RSS.
//   node bench/convert.mjs [--rounds N]       (npm run build first; needs root for the rig)
// Targets (issues 3 and 18): ours/ctr-remote wall time <= 1.0 on this 2-core machine, our peak RSS <= 200 MiB;
// since issue 18 both write the same bytes, so the output manifests must be one digest.
//   node bench/convert.mjs --compressor zlib   ipcr with Node's zlib instead (faster, other bytes)
//
// Both tools convert with their defaults: level 9, 4 MiB chunks, no prioritized files. After
// every conversion the converted image is deleted and ipcr's conversion-cache labels are taken
// off the source layers, then containerd's GC runs (`ctr i rm --sync`), so no round reuses the
// work of an earlier one; every blob the conversion added is checked to be gone again.
import { execFileSync } from 'node:child_process'
import { loadavg } from 'node:os'
import { parseArgs } from 'node:util'
import { ensureRealisticImage } from './realistic-image.mjs'
import { ipcrBin, median, rigUp, timed } from './lib.mjs'

const { values } = parseArgs({ options: { rounds: { type: 'string', default: '3' }, compressor: { type: 'string', default: 'go' } } })
const rounds = Number(values.rounds)
const img = await ensureRealisticImage()
const down = rigUp()
const address = process.env.CONTAINERD_ADDRESS
const ctr = (...args) => execFileSync('ctr', ['-a', address, ...args], { encoding: 'utf8' })

/** Content digests with their labels, from `ctr content ls` (tab-separated DIGEST SIZE AGE LABELS). */
function contentLabels() {
  const out = new Map()
  for (const line of ctr('content', 'ls').split('\n').slice(1).filter(Boolean)) {
    const cols = line.split(/\t+/)
    const labels = cols.at(-1).trim()
    out.set(cols[0], labels === '-' ? [] : labels.split(','))
  }
  return out
}

/** Delete a converted image and the conversion-cache labels ipcr leaves on the source layers; run GC. */
function forget(name) {
  for (const [digest, labels] of contentLabels()) {
    const keys = labels.map((l) => l.split('=')[0]).filter((k) => k.startsWith('ipcr.io/converted.') || k.startsWith('containerd.io/gc.ref.content.ipcr.'))
    if (keys.length) ctr('content', 'label', digest, ...keys)
  }
  const names = ctr('images', 'ls', '-q').split('\n').filter(Boolean)
  if (names.includes(name)) ctr('images', 'rm', '--sync', name)
}

const load0 = loadavg().map((l) => l.toFixed(1)).join(' ')
try {
  if (!ctr('images', 'ls', '-q').split('\n').includes(img.name)) {
    execFileSync('ctr', ['-a', address, 'images', 'import', img.tarPath], { stdio: ['ignore', 'ignore', 'inherit'] })
  }
  const ipcrName = `${img.name}-ipcr-esgz`
  const ctrName = `${img.name}-ctr-esgz`
  forget(ipcrName)
  forget(ctrName)

  const ours = []
  const theirs = []
  const digests = { ours: new Set(), theirs: new Set() }
  for (let i = 0; i < rounds; i++) {
    // Alternate who goes first, so page-cache warmth favours neither.
    const order = i % 2 === 0 ? ['theirs', 'ours'] : ['ours', 'theirs']
    for (const who of order) {
      const before = new Set(contentLabels().keys())
      if (who === 'ours') {
        const r = timed(ipcrBin, ['i', 'convert', '--estargz', '--estargz-compressor', values.compressor, img.name, ipcrName])
        ours.push(r)
        digests.ours.add(r.stdout.split('\n').pop())
        forget(ipcrName)
      } else {
        const r = timed('ctr-remote', ['-a', address, 'i', 'convert', '--estargz', '--oci', img.name, ctrName])
        theirs.push(r)
        digests.theirs.add(r.stdout.split('\n').pop())
        forget(ctrName)
      }
      // GC may also collect older garbage; what matters is that nothing of this conversion stayed.
      const left = [...contentLabels().keys()].filter((d) => !before.has(d))
      if (left.length) console.warn(`  warning: ${left.length} blob(s) of the ${who} conversion survived its deletion (round ${i + 1})`)
      console.error(`  round ${i + 1} ${who}: ${(who === 'ours' ? ours : theirs).at(-1).wall.toFixed(2)} s`)
    }
  }
  const o = median(ours.map((r) => r.wall))
  const t = median(theirs.map((r) => r.wall))
  const rss = Math.max(...ours.map((r) => r.rssMiB))
  const mib = (n) => (n / 1048576).toFixed(1)
  console.log(`bench/convert: ${img.name} (${img.layers.length} layers, ${mib(img.layerSizes.reduce((a, b) => a + b, 0))} MiB gzip), ${rounds} rounds, median wall time`)
  console.log(`  ipcr        ${o.toFixed(2)} s   (${ours.map((r) => r.wall.toFixed(2)).join(', ')})   peak RSS ${rss.toFixed(0)} MiB`)
  console.log(`  ctr-remote  ${t.toFixed(2)} s   (${theirs.map((r) => r.wall.toFixed(2)).join(', ')})   peak RSS ${Math.max(...theirs.map((r) => r.rssMiB)).toFixed(0)} MiB`)
  console.log(`  ratio ipcr/ctr-remote = ${(o / t).toFixed(2)} (target <= 1.0: ${o / t <= 1 ? 'met' : 'NOT met'}); RSS target <= 200 MiB: ${rss <= 200 ? 'met' : 'NOT met'}`)
  const same = digests.ours.size === 1 && [...digests.ours][0] === [...digests.theirs][0]
  console.log(`  ipcr (--estargz-compressor ${values.compressor}) and ctr-remote wrote ${same ? 'the same image' : 'DIFFERENT images'}: ${[...digests.ours].join(' ')} vs ${[...digests.theirs].join(' ')}`)
  console.log(`  load average at start ${load0}, at end ${loadavg().map((l) => l.toFixed(1)).join(' ')} (2 cores)`)
  console.log(`  output manifests stable across rounds: ipcr ${digests.ours.size === 1 ? 'yes' : 'NO'}, ctr-remote ${digests.theirs.size === 1 ? 'yes' : 'NO'}`)
} finally {
  down()
}
