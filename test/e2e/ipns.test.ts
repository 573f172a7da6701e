// Image references through IPNS on one node: push publishes under the reference's derived key,
// rpull resolves it (kubo or the embedded store), and republish renews the record.
import { beforeAll, describe, expect, it } from 'vitest'
import { mkdtemp, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { deriveKey, pkcs8Pem } from '../../src/ipfs/ipns-key.js'
import { buildFixtures, type Fixtures } from '../../src/testkit/index.js'
import { ctr, ipfs, wipeContainerd } from '../support/rig.js'
import { expectCleanFailure, ipcr } from '../support/ipcr.js'

let fx: Fixtures
let ipcrRoot: string

beforeAll(async () => {
  fx = await buildFixtures(join(tmpdir(), 'ipcr-fixtures'))
  ipcrRoot = await mkdtemp(join(tmpdir(), 'ipcr-ipns-root-'))
  process.env.IPCR_ROOT = ipcrRoot
})

describe('IPNS names of image references', () => {
  it('ipcr ipns name equals the Id kubo gives the imported derived key', async () => {
    const ref = `ghcr.io/ipcr-test/app:${Date.now()}`
    const pem = join(await mkdtemp(join(tmpdir(), 'ipcr-key-')), 'key.pem')
    await writeFile(pem, pkcs8Pem(deriveKey(ref)))
    const kubo = await ipfs(['key', 'import', '--format=pem-pkcs8-cleartext', '--ipns-base=base36', `k-${Date.now()}`, pem])
    expect(kubo.code, kubo.stderr).toBe(0)
    const ours = await ipcr(['ipns', 'name', ref])
    expect(ours.stdout.trim()).toBe(kubo.stdout.trim())
  })

  it('push publishes the reference; a fresh containerd pulls it by reference and runs it', async () => {
    const r = await ctr(['images', 'import', fx.single.tar])
    expect(r.code, r.stderr).toBe(0)
    const pushed = await ipcr(['i', 'ipfs-push', '--estargz=false', fx.single.name])
    expect(pushed.code, pushed.stderr).toBe(0)
    const name = (await ipcr(['ipns', 'name', fx.single.name])).stdout.trim()
    expect(pushed.stderr).toContain(`published ${fx.single.name} as /ipns/${name}`)
    expect(pushed.stdout.split('\n')).toHaveLength(2)
    await wipeContainerd()
    const pulled = await ipcr(['i', 'rpull', '--snapshotter=overlayfs', '--ipfs', fx.single.name])
    expect(pulled.code, pulled.stderr).toBe(0)
    expect((await ipcr(['i', 'ls', '-q'])).stdout.trim()).toBe(fx.single.name)
    const out = await ctr(['run', '--rm', '--snapshotter', 'overlayfs', fx.single.name, `ipns-${process.pid}`, '/bin/echo', 'by name'])
    expect(out.stdout).toBe('by name\n')
    // /ipns/NAME and ipns://NAME reach the same root, recorded under that root's CID.
    for (const form of [`/ipns/${name}`, `ipns://${name}`]) {
      const again = await ipcr(['i', 'rpull', '--snapshotter=overlayfs', '--ipfs', form])
      expect(again.code, again.stderr).toBe(0)
    }
    expect((await ipcr(['i', 'ls', '-q'])).stdout).toContain(pushed.stdout.trim())
  })

  it('--ipns=false publishes nothing, and an unpublished reference fails to pull cleanly', async () => {
    const quiet = await ipcr(['i', 'ipfs-push', '--estargz=false', '--ipns=false', '--ref', 'never.published/x:1', `oci-layout:${fx.single.layout}`])
    expect(quiet.code, quiet.stderr).toBe(0)
    expect(quiet.stderr).not.toMatch(/published/)
    expect(expectCleanFailure(await ipcr(['i', 'rpull', '--timeout', '10s', '--ipfs', 'never.published/x:1']))).toMatch(/resolve \/ipns\/k51/)
  })

  it('works with no kubo at all: the embedded store signs and verifies the record', async () => {
    const env = { IPFS_PATH: await mkdtemp(join(tmpdir(), 'no-kubo-')), IPCR_ROOT: await mkdtemp(join(tmpdir(), 'ipcr-emb-')) }
    const pushed = await ipcr(['i', 'ipfs-push', '--estargz=false', '--ref', 'embedded.test/app:1', `oci-layout:${fx.single.layout}`], { env })
    expect(pushed.code, pushed.stderr).toBe(0)
    expect(pushed.stderr).toMatch(/embedded store[\s\S]*published embedded.test\/app:1/)
    await wipeContainerd()
    const pulled = await ipcr(['i', 'rpull', '--snapshotter=overlayfs', '--ipfs', 'embedded.test/app:1'], { env })
    expect(pulled.code, pulled.stderr).toBe(0)
    expect((await ipcr(['i', 'ls', '-q'])).stdout.trim()).toBe('embedded.test/app:1')
  })

  it('republish moves the record expiry forward, for kubo and for the embedded store', async () => {
    const embedded = { IPFS_PATH: await mkdtemp(join(tmpdir(), 'no-kubo-')), IPCR_ROOT: await mkdtemp(join(tmpdir(), 'ipcr-emb-')) }
    for (const env of [{}, embedded]) {
      const pushed = await ipcr(['i', 'ipfs-push', '--estargz=false', '--ref', 'republish.test/app:1', `oci-layout:${fx.single.layout}`], { env })
      expect(pushed.code, pushed.stderr).toBe(0)
      const before = JSON.parse((await ipcr(['i', 'ls', '--ipfs', '--json'], { env })).stdout) as Array<{ ref: string; expires: string }>
      const was = before.find((p) => p.ref === 'republish.test/app:1')?.expires as string
      await new Promise((r) => setTimeout(r, 1100))
      const re = await ipcr(['ipns', 'republish', '--all'], { env })
      expect(re.code, re.stderr).toBe(0)
      const after = JSON.parse((await ipcr(['i', 'ls', '--ipfs', '--json'], { env })).stdout) as Array<{ ref: string; expires: string }>
      const now = after.find((p) => p.ref === 'republish.test/app:1')?.expires as string
      expect(Date.parse(now)).toBeGreaterThan(Date.parse(was))
    }
  })
})
