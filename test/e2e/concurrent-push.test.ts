// Eight pushes with different references into one store at once, as a CI runner with parallel jobs
// does: every reference must end up in the push history (the lock in util/file-lock.ts), so that
// `ipns republish --all` renews all eight. Once, four or five of six were kept.
import { beforeAll, describe, expect, it } from 'vitest'
import { mkdtemp } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { buildFixtures, type Fixtures } from '../../src/testkit/index.js'
import { ipcr } from '../support/ipcr.js'

let fx: Fixtures

beforeAll(async () => {
  fx = await buildFixtures(join(tmpdir(), 'ipcr-fixtures'))
})

const refs = (store: string): string[] => Array.from({ length: 8 }, (_, i) => `concurrent.test/${store}-${i}:1`)

describe('concurrent pushes', () => {
  for (const store of ['embedded', 'kubo'] as const) {
    it(`${store}: eight at once are all listed by image ls --ipfs and all renewed by ipns republish --all`, async () => {
      const root = await mkdtemp(join(tmpdir(), `ipcr-concurrent-${store}-`))
      // Without IPFS_PATH pointing at nothing, ipcr finds the rig's kubo.
      const env = store === 'embedded' ? { IPCR_ROOT: root, IPFS_PATH: join(root, 'no-ipfs') } : { IPCR_ROOT: root }
      const all = refs(store)
      const pushes = await Promise.all(all.map((ref) => ipcr(['i', 'ipfs-push', '--estargz=false', '--ref', ref, `oci-layout:${fx.single.layout}`], { env })))
      for (const p of pushes) {
        expect(p.code, p.stderr).toBe(0)
        expect(p.stderr).toContain(store === 'embedded' ? 'embedded store' : 'kubo')
      }
      const listed = JSON.parse((await ipcr(['i', 'ls', '--ipfs', '--json'], { env })).stdout) as Array<{ ref: string; root: string; backend: string }>
      expect(listed.map((e) => e.ref).sort()).toEqual([...all].sort())
      expect(new Set(listed.map((e) => e.root))).toEqual(new Set([pushes[0]?.stdout.trim()]))
      expect(new Set(listed.map((e) => e.backend))).toEqual(new Set([store]))

      const renewed = await ipcr(['ipns', 'republish', '--all', '--json'], { env })
      expect(renewed.code, renewed.stderr).toBe(0)
      expect((JSON.parse(renewed.stdout) as Array<{ ref: string }>).map((e) => e.ref).sort()).toEqual([...all].sort())
    })
  }
})
