// The old "docker save, ipfs add, ipfs get, docker load" path in one `image copy`: an image pushed
// to IPFS is written as a docker save archive that ctr images import takes and ctr run runs, and an
// archive round-trips through image copy to the same manifest digest.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { randomBytes } from 'node:crypto'
import { mkdtemp, readdir, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { buildFixtures, type Fixtures } from '../../src/testkit/index.js'
import { ctr } from '../support/rig.js'
import { ipcr } from '../support/ipcr.js'

let fx: Fixtures
let work: string
// A namespace of our own: nothing another file imported can stand in for what ours imports.
const ns = `ipcr-archive-${randomBytes(4).toString('hex')}`

async function pushed(layout: string): Promise<string> {
  const r = await ipcr(['i', 'ipfs-push', '--estargz=false', '--ipns=false', `oci-layout:${layout}`])
  expect(r.code, r.stderr).toBe(0)
  return r.stdout.trim()
}

async function copy(from: string, to: string, extra: string[] = []): Promise<{ root: { digest: string } }> {
  const r = await ipcr(['i', 'copy', '--json', ...extra, from, to])
  expect(r.code, r.stderr).toBe(0)
  return JSON.parse(r.stdout) as { root: { digest: string } }
}

beforeAll(async () => {
  fx = await buildFixtures(join(tmpdir(), 'ipcr-fixtures'))
  work = await mkdtemp(join(tmpdir(), 'ipcr-e2e-archive-'))
})
afterAll(async () => {
  for (const name of (await ctr(['-n', ns, 'images', 'ls', '-q'])).stdout.trim().split('\n').filter(Boolean)) await ctr(['-n', ns, 'images', 'rm', name])
  await rm(work, { recursive: true, force: true })
})

describe('image copy ipfs:CID docker-archive:FILE', () => {
  it('writes an archive ctr images import takes, named as pushed, and the image runs', async () => {
    const cid = await pushed(fx.multi.layout)
    const tar = join(work, 'multi.tar')
    // The push rewrote the manifest (ipfs:// URLs, OCI media types); the archive holds the pushed image.
    const { root } = await copy(`ipfs:${cid}`, `docker-archive:${tar}`)
    expect(root.digest).not.toBe(fx.multi.root.digest)
    expect(await readdir(work)).toEqual(['multi.tar']) // the temp file was renamed, not left beside it
    expect((await copy(`docker-archive:${tar}`, `oci-layout:${join(work, 'multi-layout')}`)).root.digest).toBe(root.digest)

    const imported = await ctr(['-n', ns, 'images', 'import', tar])
    expect(imported.code, imported.stderr).toBe(0)
    const listed = (await ctr(['-n', ns, 'images', 'ls'])).stdout
    expect(listed).toContain(fx.multi.name)
    expect(listed).toContain(root.digest)
    const out = await ctr(['-n', ns, 'run', '--rm', '--snapshotter', 'overlayfs', fx.multi.name, `archive-${ns}`, '/data/script.sh'])
    expect(out.stderr).toBe('')
    expect(out.stdout).toBe('hello from layer 2\n')
  })

  it('an index copied for this host only still imports and runs under the name given as REF', async () => {
    const cid = await pushed(fx.platforms.layout)
    const tar = join(work, 'platforms.tar')
    const name = 'ipcr.test/archive-platforms:host'
    await copy(`ipfs:${cid}`, `docker-archive:${tar}:${name}`)
    const imported = await ctr(['-n', ns, 'images', 'import', tar])
    expect(imported.code, imported.stderr).toBe(0)
    const out = await ctr(['-n', ns, 'run', '--rm', '--snapshotter', 'overlayfs', name, `archive-plat-${ns}`, '/bin/echo', 'from the index'])
    expect(out.stdout).toBe('from the index\n')
  })
})

describe('image copy between docker-archive and oci-layout', () => {
  it('round-trips to the same manifest digest', async () => {
    const tar = join(work, 'round.tar')
    const layout = join(work, 'round-layout')
    expect((await copy(`oci-layout:${fx.single.layout}`, `docker-archive:${tar}`)).root.digest).toBe(fx.single.root.digest)
    expect((await copy(`docker-archive:${tar}`, `oci-layout:${layout}`)).root.digest).toBe(fx.single.root.digest)
    const back = await ipcr(['i', 'copy', '--json', `oci-layout:${layout}`, `oci-layout:${join(work, 'again')}`])
    expect((JSON.parse(back.stdout) as { root: { digest: string } }).root.digest).toBe(fx.single.root.digest)
  })

  it('a failed copy leaves no archive and says why on one line', async () => {
    const tar = join(work, 'missing.tar')
    const r = await ipcr(['i', 'copy', `oci-layout:${join(work, 'no-such-layout')}`, `docker-archive:${tar}`])
    expect(r.code).not.toBe(0)
    expect(r.stderr.trim().split('\n').filter((l) => l.startsWith('ipcr: '))).toHaveLength(1)
    expect(await readdir(work)).not.toContain('missing.tar')
  })
})
