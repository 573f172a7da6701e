// Does ipcr's eStargz writer give estargz.Build's blob for every testkit fixture layer (and any
// tars named on the command line)? Both sides with one part (parallelism 1) and level 9.
//
//	npm run build && node bench/estargz-fixtures-parity.mjs [extra.tar ...]
import { execFileSync } from 'node:child_process'
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { gunzipSync } from 'node:zlib'
import { buildFixtures } from '../dist/testkit/fixtures.js'
import { convertLayerFileToEstargz } from '../dist/estargz/convert.js'

const repo = fileURLToPath(new URL('..', import.meta.url))
const work = mkdtempSync(join(tmpdir(), 'estargz-fixtures-'))
let differ = 0
try {
  const checker = join(work, 'estargz-check')
  execFileSync('go', ['build', '-o', checker, '.'], { cwd: join(repo, 'test/estargz-check') })
  const fx = join(work, 'fixtures')
  await buildFixtures(fx)
  const tars = []
  const seen = new Set()
  for (const name of readdirSync(fx)) {
    let blobs
    try { blobs = readdirSync(join(fx, name, 'blobs/sha256')) } catch { continue }
    for (const b of blobs) {
      const buf = readFileSync(join(fx, name, 'blobs/sha256', b))
      if (buf[0] !== 0x1f || buf[1] !== 0x8b || seen.has(b)) continue // layers are the gzip blobs
      seen.add(b)
      const tar = join(work, `${name}-${b.slice(0, 12)}.tar`)
      writeFileSync(tar, gunzipSync(buf))
      tars.push(tar)
    }
  }
  tars.push(...process.argv.slice(2))
  for (const tar of tars) {
    const go = JSON.parse(execFileSync(checker, ['build', tar, `${tar}.go`, '--parallelism', '1', '--level', '9'], { encoding: 'utf8' }))
    const ours = await convertLayerFileToEstargz(tar, { parts: 1, level: 9 }, work)
    const same = ours.digest === go.digest
    if (!same) differ++
    console.log(`${same ? 'same' : 'DIFFERENT'}  ${tar.split('/').pop()}  ipcr ${ours.digest}  go ${go.digest}`)
  }
} finally {
  rmSync(work, { recursive: true, force: true })
}
process.exitCode = differ ? 1 : 0
