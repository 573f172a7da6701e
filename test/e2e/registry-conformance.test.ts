// The OCI distribution-spec conformance suite against `ipcr registry serve`, backed by kubo and by
// the embedded store. First the pull workflow of a read-only registry (issue 15), pointed at an
// image already there (OCI_RO_DATA_*): a fixture pushed with ipfs-push, named ipfs/<root CID>:latest.
// Then every workflow (push, content discovery, content management, pull) against a registry
// started with --allow-push --allow-delete (issue 16). The summary lines go to the output, so CI's
// log shows what ran.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { buildFixtures, type Fixtures } from '../../src/testkit/index.js'
import { describeFailures, runConformance } from '../support/conformance.js'
import { ipcr } from '../support/ipcr.js'
import { startIpcrServer, type IpcrServer } from '../support/ipcr-server.js'

let fx: Fixtures
let work: string
const servers: IpcrServer[] = []

beforeAll(async () => {
  fx = await buildFixtures(join(tmpdir(), 'ipcr-fixtures'))
  work = await mkdtemp(join(tmpdir(), 'ipcr-conformance-serve-'))
})

afterAll(async () => {
  for (const s of servers) await s.stop()
  await rm(work, { recursive: true, force: true })
})

/** Start `ipcr registry serve ARGS…` on a free port with `env`. */
async function serve(env: NodeJS.ProcessEnv, args: string[] = []): Promise<IpcrServer> {
  const server = await startIpcrServer(['registry', 'serve', '--listen', '127.0.0.1:0', ...args], env)
  servers.push(server)
  return server
}

const backendEnv = (backend: 'kubo' | 'embedded', name: string): NodeJS.ProcessEnv =>
  backend === 'kubo' ? { IPCR_ROOT: join(work, `${name}-root`) } : { IPFS_PATH: join(work, 'no-ipfs'), IPCR_ROOT: join(work, name) }

describe('OCI conformance: pull workflow against ipcr registry serve', () => {
  for (const backend of ['kubo', 'embedded'] as const) {
    it(`backed by ${backend}`, async () => {
      const env = backendEnv(backend, 'read-only')
      const pushed = await ipcr(['i', 'ipfs-push', '--estargz=false', '--ipns=false', '--json', `oci-layout:${fx.single.layout}`], { env })
      expect(pushed.code, pushed.stderr).toBe(0)
      const result = JSON.parse(pushed.stdout) as { root: string; rootDescriptor: { digest: string }; blobs: Array<{ mediaType: string; digest: string }> }
      const config = result.blobs.find((b) => b.mediaType === 'application/vnd.oci.image.config.v1+json')
      expect(config).toBeDefined()
      const { url } = await serve(env)
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

describe('OCI conformance: every workflow against ipcr registry serve --allow-push --allow-delete', () => {
  for (const backend of ['kubo', 'embedded'] as const) {
    it(`backed by ${backend}`, async () => {
      const server = await serve(backendEnv(backend, 'push'), ['--allow-push', '--allow-delete'])
      const r = await runConformance({
        url: server.url, namespace: `conformance/${backend}-${process.pid}`, crossmountNamespace: `conformance/${backend}-${process.pid}-2`,
        settings: {
          // IPFS-enabled images, and the Go tools that make them, use sha256 only; the spec lets a
          // registry refuse other algorithms, and this one says so (DIGEST_INVALID).
          OCI_DATA_SHA512: false,
          // Optional parts this registry has: upload cancel, mount without `from`, ?tag= on a push by digest.
          OCI_API_BLOBS_UPLOAD_CANCEL: true,
          OCI_API_BLOBS_MOUNT_ANONYMOUS: true,
          OCI_API_MANIFESTS_TAG_PARAM: true,
          // Sparse indexes (children never pushed) stay off, as in the suite's defaults: they are refused
          // with MANIFEST_BLOB_UNKNOWN, because an IPFS-enabled image must hold every manifest it names.
        },
      })
      console.log(`conformance, every workflow, ipcr registry serve --allow-push on ${backend}: ${r.summary}`)
      expect(r.status, r.output.slice(-4000)).toBe('Pass')
      expect(describeFailures(r.failures), `reports in ${r.dir}`).toBe('')
      expect(r.code).toBe(0)
      expect(r.failed).toBe(0)
      expect(r.passed).toBeGreaterThan(700)
      const passed = r.tests.filter((t) => t.status === 'Pass').map((t) => t.name)
      expect(passed).toEqual(expect.arrayContaining([
        'OCI Conformance Test/sha256 blobs/chunked multi/blob-patch-chunked', 'OCI Conformance Test/sha256 blobs/mount/blob-mount',
        'OCI Conformance Test/image/push/manifest-by-tag', 'OCI Conformance Test/artifacts-with-subject/referrers',
        'OCI Conformance Test/image/delete/manifest-delete',
      ].map((n) => expect.stringContaining(n.split('/').slice(0, 2).join('/')))))
      for (const m of ['POST', 'PATCH', 'PUT', 'DELETE']) expect(r.requests.some((q) => q.startsWith(`${m} `)), m).toBe(true)
      // Every tag the suite pushed became an IPFS-enabled image, published via IPNS.
      expect(server.stderr()).toMatch(/pushed conformance\/\S+:\S+ \(sha256:[0-9a-f]{64}\): IPFS root baf\S+, published as \/ipns\/k51\S+/)
      await rm(r.dir, { recursive: true, force: true })
    }, 600_000)
  }
})
