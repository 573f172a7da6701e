// The OCI distribution-spec conformance suite (built by scripts/rig.sh into $IPCR_RIG_CONFORMANCE),
// run against a registry URL. The suite (conformance@v0.0.0-20260831232431-97274622c111, a plain
// program) is configured here by environment only (its README; config.go): OCI_REGISTRY (host:port),
// OCI_TLS (disabled for http://), OCI_REPO1/OCI_REPO2, OCI_API_* and OCI_DATA_* switches, and, for a
// read-only registry, OCI_API_PUSH=false with the preloaded content in OCI_RO_DATA_TAGS,
// OCI_RO_DATA_MANIFESTS, OCI_RO_DATA_BLOBS (and OCI_RO_DATA_REFERRERS), all space-separated. It
// also reads ./oci-conformance.yaml when there is one: it runs in a fresh temp dir, so there is none,
// and every inherited OCI_* variable is dropped (it reads any OCI_* name its config declares, and
// some legacy ones).
//
// There is no per-test skip: whole APIs and kinds of data are switched off with `settings`, and a
// registry's known failures are judged by the caller from `failures` (see unexpectedFailures).
//
// Output (results.go, run.go Report): stdout has "Test results", then one line per test, indented
// by depth, "<full name>: <Pass|FAIL|Skip|Disabled|Error>", a leaf's errors under it as " - …"
// lines (an error may run over several lines); then "OCI Conformance Result: <status>" and a
// count per status. The results dir (here: the temp dir) gets results.yaml, junit.xml and
// report.html; only report.html holds every request the suite made ("Method: …\nURL: …" in each
// test's output). Exit code 1 when the overall status is not Pass.
//
// A bug of this version: with push off (every read-only run) it panics in ReportResultsYAML after
// printing its results (TestBlobAPIs marks the data "blobs-sha256" disabled without creating it,
// run.go:916-917, and the YAML report dereferences it, run.go:818): exit code 2, results.yaml empty,
// no junit.xml or report.html. `knownCrash` says that is what happened; the requests then come from
// the debug log (OCI_LOG=debug: each passed or failed test's output, requests included, on stderr),
// which lacks only the requests of skipped tests.
import { mkdtemp, readFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { rigEnv, run } from './rig.js'

export type ConformanceStatus = 'Pass' | 'FAIL' | 'Skip' | 'Disabled' | 'Error' | 'Unknown'

/** Content already in a read-only registry, all in `namespace` (OCI_REPO1). */
export interface ReadOnlyData {
  tags: readonly string[]
  manifests: readonly string[]
  blobs: readonly string[]
  /** Subject digests whose referrers list the suite may ask for. */
  referrers?: readonly string[]
}

export interface ConformanceOptions {
  /** The registry: scheme, host and port, e.g. http://127.0.0.1:5050 (OCI_REGISTRY, OCI_TLS). */
  url: string
  /** OCI_REPO1: the repository the tests work in. */
  namespace: string
  /** OCI_REPO2 (push): a second repository to mount blobs from and into; default conformance/repo2. */
  crossmountNamespace?: string
  /**
   * A read-only registry: OCI_API_PUSH=false, the deletes off (the suite's README recommends it),
   * and the content to pull in OCI_RO_DATA_*.
   */
  readOnly?: ReadOnlyData
  username?: string
  password?: string
  /**
   * Further settings, by variable: e.g. { OCI_DATA_SHA512: false, OCI_API_REFERRER: false } for a
   * registry without sha512 or referrers. The caller should say why it turns each off.
   */
  settings?: Readonly<Record<string, string | boolean>>
  /** Kill the suite after this long; default 5 minutes. */
  timeoutMs?: number
}

export interface ConformanceTest {
  /** Full name, e.g. "OCI Conformance Test/sha256 blobs/range requests/range 500-0". */
  name: string
  status: ConformanceStatus
  /** The " - " lines under a leaf, each error with its continuation lines. */
  errors: string[]
}

export interface ConformanceResult {
  code: number | null
  /** "OCI Conformance Result: Pass (Pass 40, FAIL 0, Skip 3, Disabled 20, Error 0, Total 63)" */
  summary: string
  /** The overall status. */
  status: ConformanceStatus | ''
  total: number
  passed: number
  failed: number
  skipped: number
  disabled: number
  errored: number
  /** Every leaf test, in the suite's order (names may repeat: one leaf per request kind). */
  tests: ConformanceTest[]
  /** The leaves that are FAIL or Error. */
  failures: ConformanceTest[]
  /** The requests the suite made, as "METHOD /path?query" (from report.html, else its debug log). */
  requests: string[]
  requestsFrom: 'report' | 'log'
  /** The suite panicked the known way, after its results (see above); `code` is then 2. */
  knownCrash: boolean
  /** The temp dir the suite ran in, holding its reports. */
  dir: string
  report: string
  junit: string
  results: string
  output: string
}

/** Off in a read-only run besides push: the deletes would only fail (registry) or not apply. */
const READ_ONLY_SETTINGS = {
  OCI_API_PUSH: 'false',
  OCI_API_BLOBS_DELETE: 'false',
  OCI_API_MANIFESTS_DELETE: 'false',
  OCI_API_TAGS_DELETE: 'false',
}

export async function runConformance(opts: ConformanceOptions): Promise<ConformanceResult> {
  const binary = rigEnv().IPCR_RIG_CONFORMANCE
  if (!binary) throw new Error('the rig exports no IPCR_RIG_CONFORMANCE: run scripts/rig.sh install and up again')
  const dir = await mkdtemp(join(tmpdir(), 'ipcr-conformance-'))
  const url = new URL(opts.url)
  // spawn drops undefined: no OCI_* of ours (or a developer's) leaks into the suite's config.
  const env: NodeJS.ProcessEnv = Object.fromEntries(Object.keys(process.env).filter((k) => k.startsWith('OCI_')).map((k) => [k, undefined]))
  Object.assign(env, {
    OCI_REGISTRY: url.host,
    OCI_TLS: url.protocol === 'http:' ? 'disabled' : 'enabled',
    OCI_REPO1: opts.namespace,
    OCI_RESULTS_DIR: dir,
    OCI_VERSION: '1.1',
    OCI_LOG: 'debug',
  })
  if (opts.crossmountNamespace) env.OCI_REPO2 = opts.crossmountNamespace
  if (opts.username !== undefined) env.OCI_USERNAME = opts.username
  if (opts.password !== undefined) env.OCI_PASSWORD = opts.password
  if (opts.readOnly) {
    Object.assign(env, READ_ONLY_SETTINGS, {
      OCI_RO_DATA_TAGS: opts.readOnly.tags.join(' '),
      OCI_RO_DATA_MANIFESTS: opts.readOnly.manifests.join(' '),
      OCI_RO_DATA_BLOBS: opts.readOnly.blobs.join(' '),
      OCI_RO_DATA_REFERRERS: (opts.readOnly.referrers ?? []).join(' '),
    })
  }
  for (const [k, v] of Object.entries(opts.settings ?? {})) env[k] = String(v)
  const r = await run(binary, [], { cwd: dir, env, timeoutMs: opts.timeoutMs ?? 300_000 })
  const report = join(dir, 'report.html')
  const html = await readFile(report, 'utf8').catch(() => undefined)
  const knownCrash = r.code === 2 && /^panic: runtime error: invalid memory address or nil pointer dereference$/m.test(r.stderr) &&
    /^main\.\(\*runner\)\.ReportResultsYAML\(/m.test(r.stderr)
  return {
    code: r.code,
    ...parseOutput(r.stdout),
    requests: html === undefined ? parseLogRequests(r.stderr) : parseRequests(html),
    requestsFrom: html === undefined ? 'log' : 'report',
    knownCrash,
    dir,
    report,
    junit: join(dir, 'junit.xml'),
    results: join(dir, 'results.yaml'),
    output: r.stdout + r.stderr,
  }
}

type Parsed = Pick<ConformanceResult, 'summary' | 'status' | 'total' | 'passed' | 'failed' | 'skipped' | 'disabled' | 'errored' | 'tests' | 'failures'>

const STATUSES = ['Pass', 'FAIL', 'Skip', 'Disabled', 'Error', 'Unknown'] as const

/** The suite's stdout: the test tree (leaves kept) and the closing counts. */
export function parseOutput(stdout: string): Parsed {
  const lines = stdout.split('\n').map((l) => l.trimEnd())
  const start = lines.indexOf('Test results')
  const end = lines.findIndex((l) => l.startsWith('OCI Conformance Result: '))
  const nodes: Array<ConformanceTest & { depth: number }> = []
  const testLine = new RegExp(`^( *)(OCI Conformance Test(?:/.*)?): (${STATUSES.join('|')})$`)
  let current: (ConformanceTest & { depth: number }) | undefined
  for (const l of lines.slice(start + 1, end >= 0 ? end : undefined)) {
    if (l === 'Configuration:') break
    const m = testLine.exec(l)
    if (m) {
      current = { depth: m[1]?.length ?? 0, name: m[2] ?? '', status: m[3] as ConformanceStatus, errors: [] }
      nodes.push(current)
    } else if (current && /^ * - /.test(l)) {
      current.errors.push(l.replace(/^ * - /, ''))
    } else if (current && current.errors.length > 0 && l !== '') {
      current.errors[current.errors.length - 1] += `\n${l}`
    }
  }
  for (const n of nodes) n.errors = n.errors.map((e) => e.trimEnd())
  // A leaf is a node the next one does not nest under.
  const tests = nodes.filter((n, i) => !(nodes[i + 1] && (nodes[i + 1]?.depth ?? 0) > n.depth)).map(({ depth: _, ...t }) => t)
  const counts = new Map<string, number>()
  for (const l of lines.slice(end + 1)) {
    const m = /^ {2}(\w+)\.*: +(\d+)$/.exec(l)
    if (!m) break
    counts.set(m[1] ?? '', Number(m[2]))
  }
  const n = (k: string): number => counts.get(k) ?? NaN
  const status = end >= 0 ? (lines[end]?.slice('OCI Conformance Result: '.length) as ConformanceStatus) : ''
  return {
    summary: end >= 0
      ? `${lines[end]} (${[...counts].map(([k, v]) => `${k} ${v}`).join(', ')})`
      : '(no "OCI Conformance Result" in the output)',
    status,
    total: n('Total'),
    passed: n('Pass'),
    failed: n('FAIL'),
    skipped: n('Skip'),
    disabled: n('Disabled'),
    errored: n('Error'),
    tests,
    failures: tests.filter((t) => t.status === 'FAIL' || t.status === 'Error'),
  }
}

const unescapeHtml = (s: string): string =>
  s.replace(/&(#(\d+)|#x([0-9a-f]+)|amp|lt|gt|quot|apos);/gi, (all, _e: string, dec?: string, hex?: string) => {
    if (dec) return String.fromCodePoint(Number(dec))
    if (hex) return String.fromCodePoint(parseInt(hex, 16))
    return ({ amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" } as Record<string, string>)[all.slice(1, -1).toLowerCase()] ?? all
  })

/** Every "Method: X / URL: Y" pair of report.html (each test's output), as "X /path?query". */
export function parseRequests(html: string): string[] {
  const text = unescapeHtml(html)
  return [...text.matchAll(/^Method: ([A-Z]+)\nURL: (\S+)$/gm)].map((m) => {
    const u = new URL(m[2] ?? '')
    return `${m[1]} ${u.pathname}${u.search}`
  })
}

/** The "Method: X\nURL: Y" pairs of the debug log's quoted test outputs, as "X /path?query". */
export function parseLogRequests(stderr: string): string[] {
  return [...stderr.matchAll(/Method: ([A-Z]+)\\nURL: (\S+?)\\n/g)].map((m) => {
    const u = new URL(m[2] ?? '')
    return `${m[1]} ${u.pathname}${u.search}`
  })
}

/** A failure a caller accepts: a test whose full name contains `test`, every error of which matches `error`. */
export interface KnownFailure {
  test: string
  error: RegExp
}

/** The failures not accounted for by `known`. */
export function unexpectedFailures(r: ConformanceResult, known: readonly KnownFailure[]): ConformanceTest[] {
  return r.failures.filter((t) => !known.some((k) => t.name.includes(k.test) && t.errors.length > 0 && t.errors.every((e) => k.error.test(e))))
}

/** A failure list for an assertion message: name, then its errors. */
export function describeFailures(tests: readonly ConformanceTest[]): string {
  return tests.map((t) => `${t.name}: ${t.status}${t.errors.map((e) => `\n  - ${e.replaceAll('\n', '\n    ')}`).join('')}`).join('\n')
}
