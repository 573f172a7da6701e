// The OCI distribution-spec conformance suite's pull workflow against `ipcr registry serve`,
// backed by kubo and by the embedded store (issue 15). The registry is read-only, so the suite runs
// with push off and is pointed at an image already there (OCI_RO_DATA_*): a fixture pushed with
// ipfs-push, named ipfs/<root CID>:latest, its manifest, config and layers. Its summary line goes to
// the output, so CI's log shows what ran.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { buildFixtures, type Fixtures } from '../../src/testkit/index.js'
import { describeFailures, runConformance } from '../support/conformance.js'
import { ipcrBin } from '../support/cluster.js'
import { ipcr } from '../support/ipcr.js'

let fx: Fixtures
let work: string
const servers: ChildProcess[] = []

beforeAll(async () => {
  fx = await buildFixtures(join(tmpdir(), 'ipcr-fixtures'))
  work = await mkdtemp(join(tmpdir(), 'ipcr-conformance-serve-'))
})

afterAll(async () => {
  for (const s of servers) s.kill('SIGTERM')
  await rm(work, { recursive: true, force: true })
})

/** Start `ipcr registry serve` on a free port with `env`; resolves to its URL. */
async function serve(env: NodeJS.ProcessEnv): Promise<string> {
  const proc = spawn(ipcrBin, ['registry', 'serve', '--listen', '127.0.0.1:0'], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'ignore'] })
  servers.push(proc)
  return new Promise<string>((resolve, reject) => {
    let out = ''
    proc.stdout?.on('data', (b: Buffer) => {
      out += b.toString()
      const url = /^(http:\/\/\S+)\n/m.exec(out)?.[1]
      if (url) resolve(url)
    })
    proc.once('exit', (code) => reject(new Error(`ipcr registry serve exited ${code} before listening`)))
  })
}

describe('OCI conformance: pull workflow against ipcr registry serve', () => {
  for (const backend of ['kubo', 'embedded'] as const) {
    it(`backed by ${backend}`, async () => {
      const env: NodeJS.ProcessEnv = backend === 'kubo' ? {} : { IPFS_PATH: join(work, 'no-ipfs'), IPCR_ROOT: join(work, 'embedded') }
      const pushed = await ipcr(['i', 'ipfs-push', '--estargz=false', '--ipns=false', '--json', `oci-layout:${fx.single.layout}`], { env })
      expect(pushed.code, pushed.stderr).toBe(0)
      const result = JSON.parse(pushed.stdout) as { root: string; rootDescriptor: { digest: string }; blobs: Array<{ mediaType: string; digest: string }> }
      const config = result.blobs.find((b) => b.mediaType === 'application/vnd.oci.image.config.v1+json')
      expect(config).toBeDefined()
      const url = await serve(env)
      const r = await runConformance({
        url, namespace: `ipfs/${result.root}`,
        readOnly: { tags: ['latest'], manifests: [result.rootDescriptor.digest], blobs: result.blobs.map((b) => b.digest) },
      })
      console.log(`conformance pull workflow, ipcr registry serve on ${backend}: ${r.summary}`)
      expect(r.status, r.output).toBe('Pass')
      expect(describeFailures(r.failures), `reports in ${r.dir}`).toBe('')
      // 2 is the suite's own crash after its results whenever push is off (test/support/conformance.ts).
      expect(r.code === 0 || r.knownCrash, r.output.slice(-3000)).toBe(true)
      expect(r.failed).toBe(0)
      expect(r.passed).toBeGreaterThan(10)
      expect(r.tests.filter((t) => t.status === 'Pass').map((t) => t.name)).toEqual(expect.arrayContaining([
        'OCI Conformance Test/read-only/pull/manifest-by-tag', 'OCI Conformance Test/read-only/pull/blob-get',
      ]))
      expect(r.requests.length).toBeGreaterThan(10)
      expect(r.requests.filter((q) => !/^(GET|HEAD) /.test(q))).toEqual([])
      await rm(r.dir, { recursive: true, force: true })
    })
  }
})
