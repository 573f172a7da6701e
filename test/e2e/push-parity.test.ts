// Issue 2's core promise: for the same image in containerd and the same kubo, ipcr's root CID is
// byte-for-byte the one ctr-remote prints; and with no daemon at all the embedded store agrees.
import { beforeAll, describe, expect, it } from 'vitest'
import { mkdtemp } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { buildFixtures, type Fixtures } from '../../src/testkit/index.js'
import { ctr, ctrRemote } from '../support/rig.js'
import { ipcr } from '../support/ipcr.js'

let fx: Fixtures

async function pushBoth(name: string, extra: string[] = []): Promise<{ ours: string; theirs: string }> {
  const ours = await ipcr(['i', 'ipfs-push', '--estargz=false', ...extra, name])
  expect(ours.code, ours.stderr).toBe(0)
  const theirs = await ctrRemote(['i', 'ipfs-push', '--estargz=false', ...extra, name])
  expect(theirs.code, theirs.stderr).toBe(0)
  return { ours: ours.stdout, theirs: theirs.stdout.trim().split('\n').pop() + '\n' }
}

beforeAll(async () => {
  fx = await buildFixtures(join(tmpdir(), 'ipcr-fixtures'))
  const imports = [
    ['images', 'import', fx.single.tar],
    ['images', 'import', fx.multi.tar],
    ['images', 'import', '--all-platforms', fx.platforms.tar],
    // The docker archive goes to its own namespace: containerd would otherwise reuse multi's compressed layers.
    ['-n', 'docker', 'images', 'import', fx.dockerArchive.path],
  ]
  for (const args of imports) {
    const r = await ctr(args)
    expect(r.code, r.stderr).toBe(0)
  }
})

describe('ipfs-push --estargz=false against ctr-remote, same containerd and kubo', () => {
  it('prints the same root CID for the single-layer image', async () => {
    const { ours, theirs } = await pushBoth(fx.single.name)
    expect(ours).toMatch(/^bafkrei[a-z2-7]+\n$/)
    expect(ours).toBe(theirs)
  })

  it('prints the same root CID for the multi-layer Docker-typed image', async () => {
    const { ours, theirs } = await pushBoth(fx.multi.name)
    expect(ours).toBe(theirs)
  })

  it('prints the same root CID for the multi-platform index, host platform and all platforms', async () => {
    const host = await pushBoth(fx.platforms.name)
    expect(host.ours).toBe(host.theirs)
    const all = await pushBoth(fx.platforms.name, ['--all-platforms'])
    expect(all.ours).toBe(all.theirs)
    expect(all.ours).not.toBe(host.ours)
    const arm = await pushBoth(fx.platforms.name, ['--platform', 'linux/arm64'])
    expect(arm.ours).toBe(arm.theirs)
  })

  it('prints the same root CID for a docker save archive imported with ctr', async () => {
    const ours = await ipcr(['-n', 'docker', 'i', 'ipfs-push', '--estargz=false', fx.dockerArchive.name])
    const theirs = await ctrRemote(['-n', 'docker', 'i', 'ipfs-push', '--estargz=false', fx.dockerArchive.name])
    expect(ours.code, ours.stderr).toBe(0)
    expect(ours.stdout.trim()).toBe(theirs.stdout.trim().split('\n').pop())
  })

  it('says on stderr that kubo is the backend and keeps stdout to the CID', async () => {
    const r = await ipcr(['i', 'ipfs-push', '--estargz=false', fx.single.name])
    expect(r.stderr).toMatch(/using kubo/)
    expect(r.stdout.split('\n')).toHaveLength(2)
  })
})

describe('the embedded store, with no kubo running', () => {
  it('pushes an OCI layout to the same root CID as the containerd push through kubo', async () => {
    const noKubo = { IPFS_PATH: await mkdtemp(join(tmpdir(), 'no-kubo-')), IPCR_ROOT: await mkdtemp(join(tmpdir(), 'ipcr-root-')) }
    for (const img of [fx.single, fx.multi, fx.platforms]) {
      const embedded = await ipcr(['i', 'ipfs-push', '--estargz=false', `oci-layout:${img.layout}`], { env: noKubo })
      expect(embedded.code, embedded.stderr).toBe(0)
      expect(embedded.stderr).toMatch(/embedded store/)
      const viaKubo = await ipcr(['i', 'ipfs-push', '--estargz=false', img.name])
      expect(embedded.stdout).toBe(viaKubo.stdout)
    }
  })
})

