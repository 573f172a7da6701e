// Issue 18: one image, one CID. ipcr's default eStargz layers are the bytes the Go tools write
// (compress/gzip over compress/flate, cut into parts as estargz.Build cuts them), so `ipcr i
// ipfs-push` and `ctr-remote i ipfs-push` give the same root CID, and `ipcr i convert --estargz`
// the same layer and TOC digests as `ctr-remote i convert --estargz --oci`, for every level,
// chunk size and prioritized list. The input is the realistic image (tars GNU tar wrote) and our
// testkit's multi fixture, whose tars use another header layout: Go's writer re-encodes every
// header (src/estargz/go-tar-header.ts does the same), so both give Go's bytes.
import { execFile } from 'node:child_process'
import { mkdtemp, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { beforeAll, describe, expect, it } from 'vitest'
import { buildFixtures, type Fixtures } from '../../src/testkit/index.js'
import { ipcr } from '../support/ipcr.js'
import { ctr, ctrRemote } from '../support/rig.js'

const ns = ['-n', 'esgz-parity']
const TOC = 'containerd.io/snapshot/stargz/toc.digest'
let realistic: string
let work: string

/** The realistic image (bench/realistic-image.mjs: Debian minbase + python3, built once and cached). */
async function realisticTarball(): Promise<{ name: string; tar: string }> {
  const { stdout } = await promisify(execFile)(process.execPath, ['bench/realistic-image.mjs'], { maxBuffer: 1 << 20 })
  const tar = /^tarball: (\S+)/m.exec(stdout)?.[1]
  const name = /->\s+(\S+)\)/.exec(stdout)?.[1]
  if (!tar || !name) throw new Error(`bench/realistic-image.mjs printed no tarball:\n${stdout}`)
  return { name, tar }
}

async function ok(r: Promise<{ code: number | null; stdout: string; stderr: string }>): Promise<string> {
  const done = await r
  expect(done.code, done.stderr).toBe(0)
  return done.stdout
}

type Layer = { platform: string | undefined; digest: string; toc: string | undefined }

/** Each layer's digest and TOC digest, from the manifest (or every manifest of the index) a containerd image points at. */
async function layersOf(name: string): Promise<Layer[]> {
  const line = (await ok(ctr([...ns, 'images', 'ls']))).split('\n').find((l) => l.startsWith(`${name} `))
  const target = line?.split(/\s+/)[2]
  expect(target, `${name} is not in containerd`).toMatch(/^sha256:/)
  const walk = async (digest: string, platform: string | undefined): Promise<Layer[]> => {
    const doc = JSON.parse(await ok(ctr([...ns, 'content', 'get', digest]))) as {
      layers?: Array<{ digest: string; annotations?: Record<string, string> }>
      manifests?: Array<{ digest: string; platform?: { os: string; architecture: string } }>
    }
    if (doc.manifests) return (await Promise.all(doc.manifests.map((m) => walk(m.digest, `${m.platform?.os}/${m.platform?.architecture}`)))).flat()
    return (doc.layers ?? []).map((l) => ({ platform, digest: l.digest, toc: l.annotations?.[TOC] }))
  }
  return walk(target as string, undefined)
}

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'ipcr-esgz-parity-'))
  const img = await realisticTarball()
  realistic = img.name
  await ok(ctr([...ns, 'images', 'import', img.tar]))
}, 600_000)

describe('ipfs-push with the default eStargz conversion, ipcr and ctr-remote on one containerd and kubo', () => {
  it('the realistic image: one root CID', async () => {
    const ours = (await ok(ipcr([...ns, 'i', 'ipfs-push', realistic]))).trim()
    const theirs = (await ok(ctrRemote([...ns, 'i', 'ipfs-push', realistic]))).trim().split('\n').pop()
    expect(ours).toMatch(/^bafkrei[a-z2-7]+$/)
    expect(ours).toBe(theirs)
  }, 300_000)
})

describe('image convert --estargz against ctr-remote image convert --estargz --oci on the realistic image: same layer and TOC digests', () => {
  let round = 0
  const convertBoth = async (settings: string[]): Promise<void> => {
    round++
    const [ours, theirs] = [`ipcr.test/parity-ipcr:${round}`, `ipcr.test/parity-ctr:${round}`]
    await ok(ipcr([...ns, 'i', 'convert', '--estargz', ...settings, realistic, ours]))
    await ok(ctrRemote([...ns, 'i', 'convert', '--estargz', '--oci', ...settings, realistic, theirs]))
    const [a, b] = [await layersOf(ours), await layersOf(theirs)]
    expect(a.every((l) => l.toc?.startsWith('sha256:'))).toBe(true)
    expect(a).toEqual(b)
  }

  it.each(['1', '6', '9'])('--estargz-compression-level %s', async (level) => {
    await convertBoth(['--estargz-compression-level', level])
  }, 300_000)

  it('a non-default chunk size (1 MiB: libpython and the other large files in several chunks)', async () => {
    await convertBoth(['--estargz-chunk-size', String(1 << 20), '--estargz-compression-level', '1'])
  }, 300_000)

  it('prioritized files from a ctr-remote record file (--estargz-record-in)', async () => {
    const record = join(work, 'record.json')
    const paths = ['usr/bin/python3.11', 'usr/lib/python3.11/os.py', 'etc/ld.so.cache', 'app/hello.py', 'not/in/any/layer']
    await writeFile(record, `${paths.map((path) => JSON.stringify({ path, manifestDigest: 'sha256:0', layerIndex: 0 })).join('\n')}\n`)
    await convertBoth(['--estargz-record-in', record, '--estargz-compression-level', '1'])
  }, 300_000)
})

describe('the testkit fixtures: multi (a chunked 5 MiB file, hard links) and the multi-platform index (headers in the testkit layout, re-encoded as Go does)', () => {
  let fx: Fixtures
  beforeAll(async () => {
    fx = await buildFixtures(join(tmpdir(), 'ipcr-fixtures'))
    await ok(ctr([...ns, 'images', 'import', fx.multi.tar]))
  }, 300_000)

  it('ipfs-push: one root CID', async () => {
    const ours = (await ok(ipcr([...ns, 'i', 'ipfs-push', fx.multi.name]))).trim()
    const theirs = (await ok(ctrRemote([...ns, 'i', 'ipfs-push', fx.multi.name]))).trim().split('\n').pop()
    expect(ours).toMatch(/^bafkrei[a-z2-7]+$/)
    expect(ours).toBe(theirs)
  }, 300_000)

  it('the multi-platform index: one root CID for this host\'s platform and for --all-platforms', async () => {
    await ok(ctr([...ns, 'images', 'import', '--all-platforms', fx.platforms.tar]))
    const roots = []
    for (const flags of [[], ['--all-platforms']]) {
      const ours = (await ok(ipcr([...ns, 'i', 'ipfs-push', ...flags, fx.platforms.name]))).trim()
      const theirs = (await ok(ctrRemote([...ns, 'i', 'ipfs-push', ...flags, fx.platforms.name]))).trim().split('\n').pop()
      expect(ours).toMatch(/^bafkrei[a-z2-7]+$/)
      expect(ours, flags.join(' ')).toBe(theirs)
      roots.push(ours)
    }
    expect(roots[0]).not.toBe(roots[1])
  }, 300_000)

  it('image convert --estargz --all-platforms on the index: the same layer and TOC digests on every platform', async () => {
    await ok(ipcr([...ns, 'i', 'convert', '--estargz', '--all-platforms', fx.platforms.name, 'ipcr.test/platforms-ipcr:1']))
    await ok(ctrRemote([...ns, 'i', 'convert', '--estargz', '--oci', '--all-platforms', fx.platforms.name, 'ipcr.test/platforms-ctr:1']))
    const [a, b] = [await layersOf('ipcr.test/platforms-ipcr:1'), await layersOf('ipcr.test/platforms-ctr:1')]
    expect(new Set(a.map((l) => l.platform)).size).toBeGreaterThan(1)
    expect(a.every((l) => l.toc?.startsWith('sha256:'))).toBe(true)
    expect(a).toEqual(b)
  }, 300_000)

  it('image convert --estargz: the same layer and TOC digests', async () => {
    await ok(ipcr([...ns, 'i', 'convert', '--estargz', fx.multi.name, 'ipcr.test/multi-ipcr:1']))
    await ok(ctrRemote([...ns, 'i', 'convert', '--estargz', '--oci', fx.multi.name, 'ipcr.test/multi-ctr:1']))
    const [a, b] = [await layersOf('ipcr.test/multi-ipcr:1'), await layersOf('ipcr.test/multi-ctr:1')]
    expect(a.every((l) => l.toc?.startsWith('sha256:'))).toBe(true)
    expect(a).toEqual(b)
  }, 300_000)
})
