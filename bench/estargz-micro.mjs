#!/usr/bin/env node
// Micro-benchmark: our eStargz writer against the Go one (estargz.Build via test/estargz-check)
// on the same tar, in MB/s of uncompressed input, with CPU time and peak RSS of each run (each in a
// process of its own) and whether the blob equals Go's. Needs `npm run build` and Go.
//
//   node bench/estargz-micro.mjs [--src DIR | --tar FILE] [--level N] [--runs N]
//   default: a tar of /usr/bin (binaries and scripts: a realistic layer)
// Blobs equal Go's only for a tar whose headers Go's tar.Writer would write the same (ours are
// copied from the input, Go's re-encoded): a tar written by Go, or GNU tar --format=pax of plain files.
import { execFileSync, spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync, statSync } from 'node:fs'
import { availableParallelism, tmpdir } from 'node:os'
import { join, resolve, dirname } from 'node:path'
import { fileURLToPath } from 'node:url'

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..')
const args = process.argv.slice(2)
const opt = (name, dflt) => {
  const i = args.indexOf(`--${name}`)
  return i >= 0 ? args[i + 1] : dflt
}
const level = Number(opt('level', '9'))
const runs = Number(opt('runs', '1'))

// Child mode: one conversion, printing seconds, CPU seconds, peak RSS and the result as JSON.
if (opt('child')) {
  const { writeEstargzFile } = await import(`${process.env.IPCR_DIST ?? `${repo}/dist`}/estargz/index.js`)
  const t = performance.now()
  const r = await writeEstargzFile({ tarFile: opt('tar') }, opt('child'), JSON.parse(opt('opts', '{}')))
  const cpu = process.cpuUsage()
  console.log(JSON.stringify({ seconds: (performance.now() - t) / 1000, cpu: (cpu.user + cpu.system) / 1e6, rssMiB: process.resourceUsage().maxRSS / 1024, digest: r.digest, size: r.compressedSize }))
  process.exit(0)
}

const work = mkdtempSync(join(tmpdir(), 'ipcr-estargz-bench-'))
try {
  let tar = opt('tar')
  if (!tar) {
    const src = resolve(opt('src', '/usr/bin'))
    tar = join(work, 'input.tar')
    execFileSync('tar', ['-C', dirname(src), '-cf', tar, src.split('/').pop()])
  }
  const size = statSync(tar).size
  const mb = size / 1e6

  const checker = join(work, 'estargz-check')
  execFileSync('go', ['build', '-o', checker, '.'], { cwd: join(repo, 'test/estargz-check') })

  console.log(`input ${tar}: ${mb.toFixed(1)} MB, level ${level}, ${availableParallelism()} cores, node ${process.version}, zlib ${process.versions.zlib}`)

  const timedRun = (cmd, argv) => {
    const r = spawnSync('/usr/bin/time', ['-f', '%e %U %S %M', cmd, ...argv], { encoding: 'utf8' })
    if (r.status !== 0) throw new Error(r.stderr)
    const [e, u, sy, m] = r.stderr.trim().split('\n').at(-1).split(' ').map(Number)
    return { seconds: e, cpu: u + sy, rssMiB: m / 1024, stdout: r.stdout }
  }
  const row = (name, r, out, same) =>
    console.log(`${name.padEnd(36)} ${(mb / r.seconds).toFixed(1).padStart(6)} MB/s ${r.seconds.toFixed(2).padStart(7)} s  cpu ${r.cpu.toFixed(1).padStart(6)} s  rss ${r.rssMiB.toFixed(0).padStart(4)} MiB  -> ${(out / 1e6).toFixed(1)} MB (${((100 * out) / size).toFixed(1)}%)${same === undefined ? '' : same ? '  = Go' : '  != Go'}`)

  for (let run = 0; run < runs; run++) {
    const goDigest = {}
    for (const parallelism of [0, 1]) {
      const out = join(work, 'go.esgz')
      const r = timedRun(checker, ['build', tar, out, '--level', String(level), ...(parallelism ? ['--parallelism', String(parallelism)] : [])])
      goDigest[parallelism] = JSON.parse(r.stdout).digest
      row(`go estargz.Build${parallelism ? ' (parallelism 1)' : ''}`, r, statSync(out).size)
    }
    for (const [name, o, goParts] of [
      ['ipcr, go compressor', { level }, 0],
      ['ipcr, go compressor, parts 1', { level, parts: 1 }, 1],
      ['ipcr, go compressor, this thread', { level, gzipWorkers: 0 }, 0],
      ['ipcr, zlib compressor', { level, compressor: 'zlib' }, undefined],
    ]) {
      const out = join(work, 'ours.esgz')
      const r = timedRun(process.execPath, [fileURLToPath(import.meta.url), '--child', out, '--tar', tar, '--opts', JSON.stringify(o)])
      const res = JSON.parse(r.stdout)
      row(name, r, res.size, goParts === undefined ? undefined : res.digest === goDigest[goParts])
    }
  }
} finally {
  rmSync(work, { recursive: true, force: true })
}
