// Vitest global setup for the real-daemon rig (scripts/rig.sh): kubo, containerd and the stargz
// snapshotter, private to one directory, plus helpers for tests that drive them.
//
// setup() runs `scripts/rig.sh install` (cached builds: seconds when warm) and `up`, then puts the
// rig's env (CONTAINERD_ADDRESS, IPFS_PATH, IPCR_RIG_*, PATH) into process.env, which the forked
// test workers inherit; it is also provided as 'ipcrRig' for inject(). teardown() stops the rig.
//
// Iterating on e2e tests: `IPCR_RIG_DIR=/tmp/myrig npx vitest run test/e2e` starts (or reuses) a rig
// in that directory and leaves it running afterwards; `scripts/rig.sh down /tmp/myrig` ends it.
// IPCR_RIG_KEEP=1 keeps the directory (logs, repos) of a rig that teardown stops.
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import type { TestProject } from 'vitest/node'

declare module 'vitest' {
  export interface ProvidedContext {
    ipcrRig: RigEnv
  }
}

/** What `scripts/rig.sh env` exports, by name. */
export interface RigEnv {
  IPCR_RIG_DIR: string
  /** Colon-separated bin dirs of the built kubo, stargz tools and crictl (prepended to PATH). */
  IPCR_RIG_BIN: string
  /** The OCI distribution-spec conformance suite's binary (test/support/conformance.ts runs it). */
  IPCR_RIG_CONFORMANCE: string
  /** crane (go-containerregistry's registry client) built by the rig, by absolute path; not on PATH. */
  IPCR_RIG_CRANE: string
  /** ipfs-cluster-service (IPFS Cluster's peer daemon) built by the rig, by absolute path; not on PATH. */
  IPCR_RIG_CLUSTER_SERVICE: string
  /** ipfs-cluster-ctl (IPFS Cluster's REST API client) built by the rig, by absolute path; not on PATH. */
  IPCR_RIG_CLUSTER_CTL: string
  /** containerd's CRI registry config_path: HOST/hosts.toml files here steer crictl pulls. */
  IPCR_RIG_CERTS_D: string
  CONTAINERD_ADDRESS: string
  IPFS_PATH: string
  /** kubo API multiaddr, e.g. /ip4/127.0.0.1/tcp/PORT */
  IPCR_RIG_IPFS_API: string
  /** kubo API as a URL, e.g. http://127.0.0.1:PORT */
  IPCR_RIG_IPFS_API_URL: string
  /** kubo gateway, e.g. http://127.0.0.1:PORT */
  IPCR_RIG_GATEWAY: string
  IPCR_RIG_STARGZ_SOCK: string
  IPCR_RIG_STARGZ_ROOT: string
  IPCR_RIG_STARGZ_LOG: string
  IPCR_RIG_CONTAINERD_LOG: string
  IPCR_RIG_IPFS_LOG: string
  /** "1": Debian's containerd 1.6; "2": containerd 2.x built by the rig (IPCR_RIG_CONTAINERD=2 at up). */
  IPCR_RIG_CONTAINERD: '1' | '2'
  [name: string]: string
}

export const rigScript = fileURLToPath(new URL('../../scripts/rig.sh', import.meta.url))

export interface RunOptions {
  /** Added to (and overriding) the environment; PATH and the rig's variables are set already. */
  env?: NodeJS.ProcessEnv
  input?: string | Uint8Array
  cwd?: string
  /** Kill the process (SIGKILL) after this long; default 120 s. */
  timeoutMs?: number
  /** Stream the child's stderr to ours instead of collecting it (for long builds). */
  inheritStderr?: boolean
}

export interface RunResult {
  code: number | null
  signal: NodeJS.Signals | null
  stdout: string
  stderr: string
}

/** Runs a command to completion; never rejects for a non-zero exit (check `code`). */
export function run(cmd: string, args: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, {
      cwd: opts.cwd,
      env: { ...process.env, ...rigProcessEnv(), ...opts.env },
      stdio: ['pipe', 'pipe', opts.inheritStderr ? 'inherit' : 'pipe'],
    })
    const { stdin, stdout, stderr } = child
    if (!stdin || !stdout) throw new Error('spawn gave no stdio pipes')
    const out: Buffer[] = []
    const err: Buffer[] = []
    stdout.on('data', (b: Buffer) => out.push(b))
    stderr?.on('data', (b: Buffer) => err.push(b))
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 120_000)
    child.on('error', (e) => {
      clearTimeout(timer)
      reject(e)
    })
    child.on('close', (code, signal) => {
      clearTimeout(timer)
      resolve({ code, signal, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() })
    })
    stdin.on('error', () => {}) // a child that exits without reading its input is not our error
    stdin.end(opts.input)
  })
}

/** Like run(), but throws with the command's output when it exits non-zero. */
export async function runOk(cmd: string, args: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  const r = await run(cmd, args, opts)
  if (r.code !== 0) {
    throw new Error(`${cmd} ${args.join(' ')} exited ${r.code ?? r.signal}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`)
  }
  return r
}

/** Parses the `export NAME='value'` lines that `scripts/rig.sh env` prints. */
export function parseRigEnv(text: string): RigEnv {
  const env: Record<string, string> = {}
  for (const line of text.split('\n')) {
    const m = /^export ([A-Z_][A-Z0-9_]*)='(.*)'$/.exec(line)
    if (m?.[1] && m[2] !== undefined) env[m[1]] = m[2].replaceAll(`'\\''`, `'`)
  }
  for (const k of ['IPCR_RIG_DIR', 'CONTAINERD_ADDRESS', 'IPFS_PATH', 'IPCR_RIG_BIN']) {
    if (!env[k]) throw new Error(`scripts/rig.sh env did not export ${k}:\n${text}`)
  }
  return env as RigEnv
}

/**
 * The rig's environment, in the global setup's process or in a test worker (which inherits the
 * process.env that setup() filled in; `inject('ipcrRig')` from vitest gives the same values).
 * Not importing vitest here: this module is also the global setup, where vitest's runtime is absent.
 */
export function rigEnv(): RigEnv {
  if (current) return current
  if (process.env.IPCR_RIG_DIR && process.env.CONTAINERD_ADDRESS && process.env.IPCR_RIG_BIN) {
    return process.env as unknown as RigEnv
  }
  throw new Error('the rig is not up: add test/support/rig.ts to globalSetup in vitest.config.ts')
}

function rigProcessEnv(): NodeJS.ProcessEnv {
  let env: RigEnv
  try {
    env = rigEnv()
  } catch {
    return {}
  }
  const path = process.env.PATH ?? ''
  return { ...env, PATH: path.startsWith(env.IPCR_RIG_BIN + ':') ? path : `${env.IPCR_RIG_BIN}:${path}` }
}

/** Debian's containerd client, pointed at the rig. */
export function ctr(args: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  return run('ctr', ['--address', rigEnv().CONTAINERD_ADDRESS, ...args], opts)
}

/** stargz-snapshotter's ctr-remote (built by the rig), pointed at the rig (kubo via IPFS_PATH). */
export function ctrRemote(args: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  return run('ctr-remote', ['--address', rigEnv().CONTAINERD_ADDRESS, ...args], opts)
}

/** kubo's CLI against the rig's repo (and so its running daemon). */
export function ipfs(args: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  return run('ipfs', args, opts)
}

/**
 * Fresh containerd: stops it, deletes its root and state, and starts it again. The stargz
 * snapshotter is reset with it (containerd names snapshots by a counter in its own metadata, so
 * old snapshots would collide with new ones). kubo and its repo stay as they are.
 */
export async function wipeContainerd(): Promise<void> {
  await runOk('bash', [rigScript, 'wipe', rigEnv().IPCR_RIG_DIR], { timeoutMs: 120_000 })
}

let current: RigEnv | undefined
let owned: string | undefined

function applyToProcessEnv(env: RigEnv): void {
  const path = process.env.PATH ?? ''
  Object.assign(process.env, env)
  process.env.PATH = `${env.IPCR_RIG_BIN}:${path}`
}

export async function setup(project?: TestProject): Promise<void> {
  // A fresh machine builds kubo and the stargz tools here (minutes, once); show the progress.
  await runOk('bash', [rigScript, 'install'], { inheritStderr: true, timeoutMs: 60 * 60_000 })
  const requested = process.env.IPCR_RIG_DIR
  const up = await runOk('bash', [rigScript, 'up', ...(requested ? [requested] : [])], { timeoutMs: 300_000 })
  const dir = up.stdout.trim().split('\n').pop() ?? ''
  if (!requested) owned = dir
  const env = parseRigEnv((await runOk('bash', [rigScript, 'env', dir])).stdout)
  current = env
  applyToProcessEnv(env)
  project?.provide('ipcrRig', env)
}

export async function teardown(): Promise<void> {
  if (owned) {
    const dir = owned
    owned = undefined
    const r = await run('bash', [rigScript, 'down', dir], { timeoutMs: 120_000 })
    if (r.code !== 0) process.stderr.write(`rig down failed:\n${r.stderr}`)
  }
  current = undefined
}
