// The OCI distribution-spec conformance suite (built by scripts/rig.sh into $IPCR_RIG_CONFORMANCE),
// run against a registry URL. The suite is a Ginkgo test binary configured entirely by OCI_*
// environment variables (its README, conformance/setup.go); this module sets them from options,
// runs it in a temp dir that receives junit.xml and report.html, and reads the outcome back.
//
// A read-only registry (ipcr registry serve) runs the pull workflow with `existing` set: the suite
// then skips its setup (which POSTs/PUTs two config blobs, a layer and two manifests, and reads
// GET /tags/list) and its teardown (DELETEs), and checks the image named by the three variables:
//   OCI_TAG_NAME         a tag in OCI_NAMESPACE
//   OCI_MANIFEST_DIGEST  the digest that tag resolves to, an image manifest (it is asked for with
//                        Accept: application/vnd.oci.image.manifest.v1+json only), and
//   OCI_BLOB_DIGEST      a blob of that repository (its config, say).
// All three must be set, or the setup pushes. They also replace the digests of every manifest and
// config the suite generates, so push or discovery runs beside them would push inconsistent data:
// keep `existing` to pull-only runs.
import { mkdtemp, readFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { rigEnv, run } from './rig.js'

export type ConformanceWorkflow = 'pull' | 'push' | 'content-discovery' | 'content-management'

const WORKFLOW_ENV: Record<ConformanceWorkflow, string> = {
  pull: 'OCI_TEST_PULL',
  push: 'OCI_TEST_PUSH',
  'content-discovery': 'OCI_TEST_CONTENT_DISCOVERY',
  'content-management': 'OCI_TEST_CONTENT_MANAGEMENT',
}

/** Every variable the suite reads (setup.go): those not given here are unset, not inherited. */
const SUITE_ENV = [
  'OCI_ROOT_URL', 'OCI_NAMESPACE', 'OCI_USERNAME', 'OCI_PASSWORD', 'OCI_DEBUG', 'OCI_TEST_PULL', 'OCI_TEST_PUSH',
  'OCI_TEST_CONTENT_DISCOVERY', 'OCI_TEST_CONTENT_MANAGEMENT', 'OCI_SKIP_EMPTY_LAYER_PUSH_TEST', 'OCI_BLOB_DIGEST',
  'OCI_MANIFEST_DIGEST', 'OCI_TAG_NAME', 'OCI_TAG_LIST', 'OCI_HIDE_SKIPPED_WORKFLOWS', 'OCI_AUTH_SCOPE',
  'OCI_DELETE_MANIFEST_BEFORE_BLOBS', 'OCI_CROSSMOUNT_NAMESPACE', 'OCI_AUTOMATIC_CROSSMOUNT', 'OCI_REPORT_DIR',
]

export interface ExistingImage {
  tag: string
  manifestDigest: string
  blobDigest: string
}

export interface ConformanceOptions {
  /** OCI_ROOT_URL: scheme, host and port, e.g. http://127.0.0.1:5050 */
  url: string
  /** OCI_NAMESPACE: the repository the workflows work in. */
  namespace: string
  workflows: readonly ConformanceWorkflow[]
  /** OCI_CROSSMOUNT_NAMESPACE (push): a second repository to mount blobs into; default: the suite makes one up. */
  crossmountNamespace?: string
  /** Pull an image already in the registry instead of pushing one first (a read-only registry). */
  existing?: ExistingImage
  username?: string
  password?: string
  /**
   * Spec names to skip (-ginkgo.skip, matched as plain substrings of the full spec text): a
   * registry's known deviations, each of which the caller should say why it accepts.
   */
  skip?: readonly string[]
  /** Kill the suite after this long; default 5 minutes. */
  timeoutMs?: number
}

export interface ConformanceResult {
  code: number | null
  /** "Ran N of M Specs in S seconds; SUCCESS! -- N Passed | 0 Failed | 0 Pending | K Skipped" */
  summary: string
  ran: number
  total: number
  passed: number
  failed: number
  skipped: number
  /** Full texts of the failed specs, from Ginkgo's "Summarizing N Failures" block. */
  failures: string[]
  /** Every request the suite made, as "METHOD /path" (from its OCI_DEBUG output). */
  requests: string[]
  /** The temp dir the suite ran in, holding both reports. */
  dir: string
  report: string
  junit: string
  output: string
}

const escapeRegex = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')

export async function runConformance(opts: ConformanceOptions): Promise<ConformanceResult> {
  const binary = rigEnv().IPCR_RIG_CONFORMANCE
  if (!binary) throw new Error('the rig exports no IPCR_RIG_CONFORMANCE: run scripts/rig.sh install and up again')
  const dir = await mkdtemp(join(tmpdir(), 'ipcr-conformance-'))
  const env: NodeJS.ProcessEnv = Object.fromEntries(SUITE_ENV.map((k) => [k, undefined])) // spawn drops undefined
  Object.assign(env, {
    OCI_ROOT_URL: opts.url,
    OCI_NAMESPACE: opts.namespace,
    OCI_REPORT_DIR: dir,
    // The request log is how `requests` is known; it costs nothing at this size.
    OCI_DEBUG: '1',
    OCI_HIDE_SKIPPED_WORKFLOWS: '1',
  })
  for (const w of opts.workflows) env[WORKFLOW_ENV[w]] = '1'
  if (opts.crossmountNamespace) env.OCI_CROSSMOUNT_NAMESPACE = opts.crossmountNamespace
  if (opts.username !== undefined) env.OCI_USERNAME = opts.username
  if (opts.password !== undefined) env.OCI_PASSWORD = opts.password
  if (opts.existing) {
    env.OCI_TAG_NAME = opts.existing.tag
    env.OCI_MANIFEST_DIGEST = opts.existing.manifestDigest
    env.OCI_BLOB_DIGEST = opts.existing.blobDigest
  }
  const args = ['-ginkgo.no-color']
  if (opts.skip?.length) args.push(`-ginkgo.skip=${opts.skip.map(escapeRegex).join('|')}`)
  const r = await run(binary, args, { cwd: dir, env, timeoutMs: opts.timeoutMs ?? 300_000 })
  const output = r.stdout + r.stderr
  return { code: r.code, ...parseOutput(output), dir, report: join(dir, 'report.html'), junit: join(dir, 'junit.xml'), output }
}

type Parsed = Pick<ConformanceResult, 'summary' | 'ran' | 'total' | 'passed' | 'failed' | 'skipped' | 'failures' | 'requests'>

/** Ginkgo's closing lines, its failure summary, and the debug log's request lines. */
export function parseOutput(output: string): Parsed {
  const lines = output.split('\n').map((l) => l.trimEnd())
  const ranAt = lines.findIndex((l) => /^Ran \d+ of \d+ Specs? in /.test(l))
  const ranLine = ranAt >= 0 ? lines[ranAt] ?? '' : ''
  const outcome = lines.slice(ranAt + 1).find((l) => /^(SUCCESS|FAIL)! -- /.test(l)) ?? ''
  const ran = /^Ran (\d+) of (\d+)/.exec(ranLine)
  const count = (label: string): number => Number(new RegExp(`(\\d+) ${label}`).exec(outcome)?.[1] ?? NaN)
  const failures: string[] = []
  const summaryAt = lines.findIndex((l) => /^Summarizing \d+ Failures?:/.test(l))
  if (summaryAt >= 0) {
    for (const l of lines.slice(summaryAt + 1)) {
      const m = /^\s+\[(?:FAIL|PANICKED|TIMEDOUT|INTERRUPTED)\] (.*)$/.exec(l)
      if (m?.[1]) failures.push(m[1])
      else if (l.trim() === '' || /^Ran \d+/.test(l)) break
    }
  }
  const requests = lines.flatMap((l) => {
    const m = /^(GET|HEAD|POST|PUT|PATCH|DELETE)\s+(\S+)\s+HTTP\/1\.1$/.exec(l)
    return m ? [`${m[1]} ${m[2]}`] : []
  })
  return {
    summary: ranLine && outcome ? `${ranLine}; ${outcome}` : '(no Ginkgo summary in the output)',
    ran: Number(ran?.[1] ?? NaN),
    total: Number(ran?.[2] ?? NaN),
    passed: count('Passed'),
    failed: count('Failed'),
    skipped: count('Skipped'),
    failures,
    requests,
  }
}

/** Full texts of the junit.xml test cases with the given status, without Ginkgo's "[It] ". */
export async function junitCases(path: string, status: 'passed' | 'failed' | 'skipped'): Promise<string[]> {
  const xml = await readFile(path, 'utf8')
  const cases: string[] = []
  for (const m of xml.matchAll(/<testcase name="([^"]*)"[^>]*status="([^"]*)"/g)) {
    const name = m[1]?.replace(/^\[It\] /, '')
    if (m[2] === status && name !== undefined) cases.push(name.replaceAll('&#39;', "'").replaceAll('&#34;', '"').replaceAll('&amp;', '&'))
  }
  return cases
}
