// Issue 18, Must show: the memo. ctr-remote's converter copies every label of a source layer onto
// the layer it writes, ipcr's conversion memo included. An image converted by ctr-remote after ipcr
// in one namespace, then by ipcr again, must come out as it does in a clean namespace.
import { randomBytes } from 'node:crypto'
import { join } from 'node:path'
import { tmpdir } from 'node:os'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { buildFixtures, type Fixtures } from '../../src/testkit/index.js'
import { ctr, ctrRemote } from '../support/rig.js'
import { ipcr } from '../support/ipcr.js'

let fx: Fixtures
const run = randomBytes(4).toString('hex')
const used = [`ipcr-memo-x-${run}`, `ipcr-memo-y-${run}`, `ipcr-memo-z-${run}`]
const [nsX, nsY, nsZ] = used as [string, string, string]

async function ctrIn(ns: string, args: string[]): Promise<string> {
  const r = await ctr(['-n', ns, ...args])
  expect(r.code, `ctr ${args.join(' ')}\n${r.stderr}`).toBe(0)
  return r.stdout
}

/**
 * ctr-remote's conversion at level 1: with the settings ipcr uses (level 9) it writes ipcr's very
 * blobs, which keep ipcr's own memo; other bytes make new blobs, onto which it copies the source's.
 */
async function ctrRemoteConvert(ns: string, from: string, to: string): Promise<string> {
  const r = await ctrRemote(['-n', ns, 'i', 'convert', '--estargz', '--oci', '--estargz-compression-level', '1', from, to])
  expect(r.code, r.stderr).toBe(0)
  return r.stdout.trim()
}

/** `ipcr image convert --estargz` in a namespace: the new root digest and what it said on stderr. */
async function ipcrConvert(ns: string, from: string, to: string): Promise<{ root: string; stderr: string }> {
  const r = await ipcr(['i', 'convert', '--estargz', from, to], { env: { CONTAINERD_NAMESPACE: ns } })
  expect(r.code, r.stderr).toBe(0)
  const root = r.stdout.trim()
  expect(root).toMatch(/^sha256:[0-9a-f]{64}$/)
  return { root, stderr: r.stderr }
}

/** The layer digests of an image in a namespace, as ctr-remote's converter wrote them. */
async function layersOf(ns: string, name: string): Promise<string[]> {
  const out = await ctrIn(ns, ['content', 'get', await targetOf(ns, name)])
  return (JSON.parse(out) as { layers: { digest: string }[] }).layers.map((l) => l.digest)
}

async function targetOf(ns: string, name: string): Promise<string> {
  const line = (await ctrIn(ns, ['images', 'ls'])).split('\n').find((l) => l.startsWith(`${name} `))
  const digest = line?.split(/\s+/)[2]
  expect(digest).toMatch(/^sha256:/)
  return digest as string
}

beforeAll(async () => {
  fx = await buildFixtures(join(tmpdir(), 'ipcr-fixtures'))
  for (const ns of used) await ctrIn(ns, ['images', 'import', fx.multi.tar])
})

afterAll(async () => {
  for (const ns of used) {
    const names = (await ctr(['-n', ns, 'images', 'ls', '-q'])).stdout.trim().split('\n').filter(Boolean)
    if (names.length > 0) await ctr(['-n', ns, 'images', 'rm', '--sync', ...names])
  }
})

describe('the conversion memo survives ctr-remote copying it', () => {
  it('ipcr, then ctr-remote, then ipcr on ctr-remote\'s output: the result equals a clean namespace\'s', async () => {
    const src = fx.multi.name
    // X: ipcr converts first and files its memo on each source layer ...
    const first = await ipcrConvert(nsX, src, `${src}-ipcr`)
    expect(first.stderr.match(/^converted sha256:/gm)).toHaveLength(3)
    // ... ctr-remote converts the same image, copying those labels onto its output ...
    const theirs = await ctrRemoteConvert(nsX, src, `${src}-ctr`)
    const theirLayers = await layersOf(nsX, `${src}-ctr`)
    const labels = await ctrIn(nsX, ['content', 'ls'])
    for (const layer of theirLayers) {
      // (the precondition: ctr-remote copied ipcr's memo onto its own layer)
      const line = labels.split('\n').find((l) => l.startsWith(layer))
      expect(line, `ctr-remote's layer ${layer} carries ipcr's memo`).toMatch(/ipcr\.io\/converted\.estargz-[0-9a-f]{16}=/)
    }
    // ... and ipcr converts ctr-remote's output.
    const again = await ipcrConvert(nsX, `${src}-ctr`, `${src}-ctr-ipcr`)

    // Y: nothing of ipcr's before; the same ctr-remote conversion, then ipcr on its output.
    expect(await ctrRemoteConvert(nsY, src, `${src}-ctr`)).toBe(theirs)
    const clean = await ipcrConvert(nsY, `${src}-ctr`, `${src}-ctr-ipcr`)

    expect(again.root).toBe(clean.root)
    // Every layer of ctr-remote's output was converted, none taken from the copied memo.
    expect(again.stderr).not.toMatch(/^reused /m)
    for (const layer of theirLayers) expect(again.stderr).toContain(`converted ${layer.slice(0, 19)}`)
  })

  it('ipcr converting the source again after ctr-remote still reuses its own memo, and equals a clean namespace\'s', async () => {
    const src = fx.multi.name
    const again = await ipcrConvert(nsX, src, `${src}-ipcr-again`)
    expect(again.stderr.match(/^reused the eStargz conversion of sha256:/gm)).toHaveLength(3)
    expect(again.stderr).not.toMatch(/^converted /m)
    const clean = await ipcrConvert(nsZ, src, `${src}-ipcr`)
    expect(clean.stderr.match(/^converted sha256:/gm)).toHaveLength(3)
    expect(again.root).toBe(clean.root)
  })
})
