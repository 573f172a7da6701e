// Issue 15 ("Real parts"): the OCI distribution-spec conformance suite, built by the rig, run by
// test/support/conformance.ts. Here it runs against a real CNCF distribution (Debian's
// docker-registry 2.8), to show the harness is right before ipcr's own registry is pointed at it:
// everything passes except what distribution 2.8 is known not to do, each listed below with what
// 2.8 answers; and the read-only configuration (pull of an image already there, no writes) passes
// on its own.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { buildFixtures, type Fixtures } from '../../src/testkit/index.js'
import { runOk } from '../support/rig.js'
import { describeFailures, runConformance, unexpectedFailures, type ConformanceResult, type KnownFailure } from '../support/conformance.js'
import { startRegistry, type TestRegistry } from '../support/registry.js'

/**
 * Whole features distribution 2.8.2 lacks (observed; not ours to fix), switched off in the suite:
 *   OCI_DATA_SHA512: an upload pushed with a sha512 digest is stored and answered as sha256
 *     (Docker-Content-Digest: sha256:…), so every sha512 blob and manifest test fails.
 *   OCI_API_REFERRER: no referrers API (GET /v2/<name>/referrers/<digest> is 404 text/plain).
 *   OCI_DATA_NONDISTRIBUTABLE: a manifest whose non-distributable layers were (rightly) not pushed
 *     is refused with 500, so that image never exists.
 */
const DISTRIBUTION_2_8_OFF = { OCI_DATA_SHA512: false, OCI_API_REFERRER: false, OCI_DATA_NONDISTRIBUTABLE: false }

/** Single tests distribution 2.8.2 fails (observed), with the suite's message for each. */
const DISTRIBUTION_2_8_DEVIATIONS: KnownFailure[] = [
  // Chunked uploads: an out-of-order chunk gets 202 where the spec wants 416.
  { test: 'blobs/chunked out-of-order', error: /^blob out of order chunk: unexpected status code, expected one of \[416\], received 202$/ },
  // Unsatisfiable ranges (bytes=500-0, past the end): 2.8 announces a body it does not send.
  { test: 'blobs/range requests/range ', error: /^blob get failed: Get "[^"]+": unexpected EOF$/ },
  // Tag listing ignores `last` (and `n`).
  { test: '/tag-list', error: /^tag "[^"]+" returned when last set to "[^"]+"$/ },
  // A manifest reference that is no valid digest: 500 where the spec wants 400 (PUT) or 400/404 (GET).
  { test: 'invalid-digest-format/manifest-', error: /^manifest (put|get) failed: unexpected status code, expected one of \[[0-9 ]+\], received 500$/ },
]

let fx: Fixtures
let registry: TestRegistry
const results: ConformanceResult[] = []

/** The fixture's manifest digest and its config digest, as pushed by skopeo (bytes unchanged). */
async function seeded(): Promise<{ manifestDigest: string; blobDigest: string }> {
  const manifestDigest = fx.single.root.digest
  const manifest = JSON.parse(await readFile(join(fx.single.layout, 'blobs', ...manifestDigest.split(':')), 'utf8')) as { config: { digest: string } }
  return { manifestDigest, blobDigest: manifest.config.digest }
}

function show(name: string, r: ConformanceResult): void {
  // The suite's own summary line, so CI output says what ran.
  console.log(`conformance (${name}): ${r.summary}`)
}

const passedNames = (r: ConformanceResult): string[] => r.tests.filter((t) => t.status === 'Pass').map((t) => t.name)

beforeAll(async () => {
  fx = await buildFixtures(join(tmpdir(), 'ipcr-fixtures'))
  registry = await startRegistry('plain')
  await runOk('skopeo', ['copy', '-q', '--dest-tls-verify=false', `oci:${fx.single.layout}:1`, `docker://${registry.host}/ro/busybox:1`], { timeoutMs: 120_000 })
})

afterAll(async () => {
  await registry?.stop()
  // Reports of runs with unexpected failures stay for a look; the failure message names their directory.
  await Promise.all(results.filter((r) => unexpectedFailures(r, DISTRIBUTION_2_8_DEVIATIONS).length === 0).map((r) => rm(r.dir, { recursive: true, force: true })))
})

describe('the conformance suite against CNCF distribution 2.8', () => {
  it('every API and kind of data passes, but for 2.8\'s known deviations', async () => {
    const r = await runConformance({
      url: registry.url,
      namespace: 'conformance/main',
      crossmountNamespace: 'conformance/other',
      settings: DISTRIBUTION_2_8_OFF,
    })
    results.push(r)
    show('all tests', r)
    expect(r.status, r.output).not.toBe('')
    expect(describeFailures(unexpectedFailures(r, DISTRIBUTION_2_8_DEVIATIONS)), `reports in ${r.dir}`).toBe('')
    expect(r.errored).toBe(0)
    expect(r.passed).toBeGreaterThan(400)
    // Real work was done: pushes of every kind, pulls, and the deletes of the teardown.
    const passed = passedNames(r)
    for (const part of ['/ping', 'sha256 blobs/stream/blob-patch-stream', 'sha256 blobs/chunked multi/blob-patch-chunked',
      'sha256 blobs/mount/blob-mount', 'image/push/manifest-by-tag', 'index/pull/manifest-by-digest', 'image/delete/manifest-delete',
      'image/delete/blob-delete']) {
      expect(passed.filter((n) => n.includes(part)), part).not.toHaveLength(0)
    }
    for (const method of ['PATCH', 'PUT', 'POST', 'DELETE']) expect(r.requests.some((q) => q.startsWith(`${method} `)), method).toBe(true)
    expect(await readFile(r.report, 'utf8')).toContain('OCI Distribution Conformance Tests')
  })

  it('read-only pull: an image that is already there, and no request but GET and HEAD', async () => {
    const { manifestDigest, blobDigest } = await seeded()
    const r = await runConformance({
      url: registry.url,
      namespace: 'ro/busybox',
      readOnly: { tags: ['1'], manifests: [manifestDigest], blobs: [blobDigest] },
      settings: DISTRIBUTION_2_8_OFF,
    })
    results.push(r)
    show('read-only pull', r)
    expect(r.status, r.output).not.toBe('')
    expect(describeFailures(unexpectedFailures(r, DISTRIBUTION_2_8_DEVIATIONS)), `reports in ${r.dir}`).toBe('')
    // Exit code 2 and no report files: the suite's own crash after its results with push off
    // (test/support/conformance.ts); the requests then come from its debug log.
    expect(r.code === 0 || r.knownCrash, r.output.slice(-3000)).toBe(true)
    expect(r.passed).toBeGreaterThan(0)
    expect(passedNames(r)).toEqual(expect.arrayContaining([
      'OCI Conformance Test/read-only/pull/manifest-by-tag',
      'OCI Conformance Test/read-only/pull/manifest-by-digest',
      'OCI Conformance Test/read-only/pull/blob-get',
    ]))
    expect(r.requests.filter((q) => !/^(GET|HEAD) /.test(q))).toEqual([])
    expect(r.requests).toContain(`GET /v2/ro/busybox/manifests/${manifestDigest}`)
    expect(r.requests).toContain('HEAD /v2/ro/busybox/manifests/1')
    expect(r.requests).toContain(`GET /v2/ro/busybox/blobs/${blobDigest}`)
  })

  it('a registry that lacks the image fails the read-only pull (the harness reports failure)', async () => {
    const { blobDigest } = await seeded()
    const absent = `sha256:${'0'.repeat(64)}`
    const r = await runConformance({
      url: registry.url,
      namespace: 'ro/busybox',
      readOnly: { tags: ['1'], manifests: [absent], blobs: [blobDigest] },
      settings: DISTRIBUTION_2_8_OFF,
    })
    expect(r.code).not.toBe(0)
    expect(r.status).toBe('FAIL')
    expect(unexpectedFailures(r, DISTRIBUTION_2_8_DEVIATIONS).map((t) => t.name)).toContain('OCI Conformance Test/read-only/pull/manifest-by-digest')
    await rm(r.dir, { recursive: true, force: true })
  })
})
