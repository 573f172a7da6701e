// Shared by the benchmarks: a rig to run against, timed runs of a command with peak RSS, medians.
import { spawn, spawnSync, execFileSync } from 'node:child_process'
import { openSync, readFileSync, writeFileSync } from 'node:fs'
import { mkdir, writeFile } from 'node:fs/promises'
import { createServer } from 'node:net'
import { loadavg } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

export const root = fileURLToPath(new URL('..', import.meta.url))
const rig = `${root}scripts/rig.sh`

/** Use the rig named by IPCR_RIG_DIR, or start one for this benchmark (stopped by the returned function). */
export function rigUp() {
  execFileSync('bash', [rig, 'install'], { stdio: ['ignore', 'ignore', 'inherit'] })
  const given = process.env.IPCR_RIG_DIR
  const dir = execFileSync('bash', [rig, 'up', ...(given ? [given] : [])], { encoding: 'utf8' }).trim().split('\n').pop()
  const env = {}
  for (const line of execFileSync('bash', [rig, 'env', dir], { encoding: 'utf8' }).split('\n')) {
    const m = /^export ([A-Z_0-9]+)='(.*)'$/.exec(line)
    if (m) env[m[1]] = m[2]
  }
  env.PATH = `${env.IPCR_RIG_BIN}:${process.env.PATH}`
  Object.assign(process.env, env)
  return () => { if (!given) execFileSync('bash', [rig, 'down', dir], { stdio: 'inherit' }) }
}

/** Run a command under /usr/bin/time; returns wall seconds, CPU seconds (user + system) and peak RSS in MiB. Throws on failure. */
export function timed(cmd, args, opts = {}) {
  const r = spawnSync('/usr/bin/time', ['-f', '%e %M %U %S', cmd, ...args], { encoding: 'utf8', env: { ...process.env, ...opts.env }, maxBuffer: 1 << 26 })
  const last = r.stderr.trim().split('\n').pop() ?? ''
  const [wall, kib, user, sys] = last.split(' ').map(Number)
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}):\n${r.stderr}`)
  return { wall, cpu: user + sys, rssMiB: kib / 1024, stdout: r.stdout.trim() }
}

/** CPU seconds (user + system) a running process has used so far, its threads included. */
export function cpuSeconds(pid) {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /s, '').split(' ')
  // utime and stime are fields 14 and 15 of stat(5), 12 and 13 after the pid and comm are cut off; in clock ticks (100 per second on Linux).
  return (Number(fields[11]) + Number(fields[12])) / 100
}

/** Seconds in a Go duration such as "1m2.5s", "965.39ms" or "812µs". */
export function goSeconds(text) {
  const unit = { h: 3600, m: 60, s: 1, ms: 1e-3, us: 1e-6, 'µs': 1e-6, ns: 1e-9 }
  let total = 0
  for (const [, n, u] of text.matchAll(/([0-9.]+)(h|ms|m|s|us|µs|ns)/g)) total += Number(n) * unit[u]
  return total
}

export const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]

/** The q-quantile (0..1) of xs, interpolated between the two nearest ranks. */
export function quantile(xs, q) {
  const s = [...xs].sort((a, b) => a - b)
  const at = (s.length - 1) * q
  const lo = Math.floor(at)
  return s[lo] + (s[Math.min(lo + 1, s.length - 1)] - s[lo]) * (at - lo)
}
export const ipcrBin = `${root}bin/ipcr`

/** A TCP port free on 127.0.0.1 just now. */
export const freePort = () => new Promise((resolve) => {
  const s = createServer()
  s.listen(0, '127.0.0.1', () => { const p = s.address().port; s.close(() => resolve(p)) })
})

/** The load averages (1, 5, 15 min) now, as the benches print them. */
export const loadNow = () => loadavg().map((l) => l.toFixed(2)).join(' ')

/** Reset a process's peak RSS (VmHWM) to its current RSS. */
export const resetPeak = (pid) => writeFileSync(`/proc/${pid}/clear_refs`, '5')
/** A process's peak RSS (VmHWM) in MiB since it started or since the last resetPeak. */
export const peakMiB = (pid) => Number(/VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))[1]) / 1024

/** `ipcr registry serve` on a free loopback port, with `args` added; its stderr (access log) goes to `logPath`. */
export async function startIpcrRegistry(logPath, args = []) {
  const child = spawn(ipcrBin, ['registry', 'serve', '--listen', '127.0.0.1:0', ...args], { stdio: ['ignore', 'pipe', openSync(logPath, 'w')] })
  const exited = new Promise((resolve) => child.once('exit', resolve))
  const url = await new Promise((resolve, reject) => {
    let out = ''
    child.stdout.on('data', (d) => { out += d; if (out.includes('\n')) resolve(out.split('\n')[0].trim()) })
    void exited.then((code) => reject(new Error(`ipcr registry serve exited ${code} before listening (log: ${logPath})`)))
  })
  /** SIGTERM; resolves once it has drained and exited. */
  const stop = () => { child.kill('SIGTERM'); return exited }
  return { host: new URL(url).host, pid: child.pid, stop }
}

/**
 * CNCF distribution (Debian's docker-registry) on a free loopback port, plain HTTP, storage under `dir`.
 * With `o.log` (a path), it logs at info level there: a "response completed" line per request.
 */
export async function startDistribution(dir, o = {}) {
  const host = `127.0.0.1:${await freePort()}`
  await mkdir(dir, { recursive: true })
  await writeFile(join(dir, 'config.yml'), ['version: 0.1', 'log:', `  level: ${o.log ? 'info' : 'error'}`, 'storage:', '  filesystem:', `    rootdirectory: ${join(dir, 'data')}`, 'http:', `  addr: ${host}`, ''].join('\n'))
  const out = o.log ? openSync(o.log, 'w') : 'ignore'
  const child = spawn('docker-registry', ['serve', join(dir, 'config.yml')], { stdio: ['ignore', out, out] })
  const exited = new Promise((resolve) => child.once('exit', resolve))
  for (let i = 0; i < 100; i++) {
    try { execFileSync('curl', ['-sf', '-o', '/dev/null', `http://${host}/v2/`]); break } catch { await new Promise((r) => setTimeout(r, 100)) }
  }
  return { host, pid: child.pid, stop: () => { child.kill(); return exited } }
}

/** Fresh containerd + snapshotter state (kubo kept). Retried: on a loaded machine a restart can time out. */
export function wipeRig(rigDir) {
  for (let attempt = 1; ; attempt++) {
    const r = spawnSync('bash', [rig, 'wipe', rigDir], { encoding: 'utf8' })
    if (r.status === 0) return
    const why = r.stderr.split('\n').filter((l) => l.startsWith('rig:')).join('\n')
    if (attempt === 3) throw new Error(`rig wipe failed 3 times:\n${why}`)
    console.warn(`  rig wipe failed (attempt ${attempt}), retrying:\n${why}`)
  }
}
