#!/usr/bin/env node
// Micro-benchmark: our eStargz writer against the Go one (estargz.Build via test/estargz-check)
// on the same tar, in MB/s of uncompressed input. Needs `npm run build` and Go.
//
//   node bench/estargz-micro.mjs [--src DIR | --tar FILE] [--level N] [--runs N]
//   default: a tar of /usr/bin (binaries and scripts: a realistic layer)
import { execFileSync } from 'node:child_process'
import { mkdtempSync, rmSync, statSync } from 'node:fs'
import { availableParallelism, tmpdir } from 'node:os'
import { join, resolve, dirname } from 'node:path'
import { fileURLToPath } from 'node:url'
import { createReadStream } from 'node:fs'

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..')
const args = process.argv.slice(2)
const opt = (name, dflt) => {
  const i = args.indexOf(`--${name}`)
  return i >= 0 ? args[i + 1] : dflt
}
const level = Number(opt('level', '9'))
const runs = Number(opt('runs', '1'))

const { writeEstargzFile } = await import(`${process.env.IPCR_DIST ?? `${repo}/dist`}/estargz/index.js`).catch((err) => {
  console.error(`cannot load dist/estargz (run \`npm run build\` first): ${err.message}`)
  process.exit(1)
})

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
  const row = (name, seconds, out) =>
    console.log(`${name.padEnd(34)} ${(mb / seconds).toFixed(1).padStart(7)} MB/s  ${seconds.toFixed(2).padStart(7)} s  -> ${(out / 1e6).toFixed(1)} MB (${((100 * out) / size).toFixed(1)}%)`)

  for (let run = 0; run < runs; run++) {
    for (const parallelism of [0, 1]) {
      const out = join(work, 'go.esgz')
      const t = performance.now()
      execFileSync(checker, ['build', tar, out, '--level', String(level), ...(parallelism ? ['--parallelism', String(parallelism)] : [])])
      row(`go estargz.Build${parallelism ? ' (parallelism 1)' : ''}`, (performance.now() - t) / 1000, statSync(out).size)
    }
    {
      const out = join(work, 'ours.esgz')
      const t = performance.now()
      const r = await writeEstargzFile({ tarFile: tar }, out, { level })
      row('ipcr writeEstargz (tar file)', (performance.now() - t) / 1000, r.compressedSize)
    }
    {
      const out = join(work, 'ours-stream.esgz')
      const t = performance.now()
      const r = await writeEstargzFile(createReadStream(tar, { highWaterMark: 1 << 20 }), out, { level, tmpDir: work })
      row('ipcr writeEstargz (stream, spooled)', (performance.now() - t) / 1000, r.compressedSize)
    }
    {
      const out = join(work, 'ours-1.esgz')
      const t = performance.now()
      const r = await writeEstargzFile({ tarFile: tar }, out, { level, concurrency: 1 })
      row('ipcr writeEstargz (concurrency 1)', (performance.now() - t) / 1000, r.compressedSize)
    }
  }
} finally {
  rmSync(work, { recursive: true, force: true })
}
