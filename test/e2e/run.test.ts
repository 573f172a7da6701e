// ipcr run on the rig's containerd, as a person at a shell and a CI script meet it: output, exit codes,
// stdin, options taking effect inside the container, signals, a real terminal (tmux), images from
// IPFS, unpacking on demand, and bad input that fails in one line leaving nothing behind.
import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { buildFixtures, type Fixtures } from '../../src/testkit/index.js'
import { ctr, run, runOk, wipeContainerd } from '../support/rig.js'
import { expectCleanFailure, ipcr } from '../support/ipcr.js'

const bin = fileURLToPath(new URL('../../bin/ipcr', import.meta.url))
let fx: Fixtures
let IMG: string
let work: string

/** What containerd (and the temp dir) still holds for container `id`; all empty after a clean run. */
async function leftovers(id: string): Promise<string[]> {
  const found: string[] = []
  const containers = (await ctr(['containers', 'ls', '-q'])).stdout.split('\n')
  if (containers.includes(id)) found.push(`container ${id}`)
  const tasks = (await ctr(['tasks', 'ls'])).stdout.split('\n').slice(1)
  if (tasks.some((l) => l.split(/\s+/)[0] === id)) found.push(`task ${id}`)
  for (const sn of ['overlayfs', 'stargz']) {
    const snaps = (await ctr(['snapshots', '--snapshotter', sn, 'ls'])).stdout.split('\n').slice(1)
    if (snaps.some((l) => l.split(/\s+/)[0] === id)) found.push(`${sn} snapshot ${id}`)
  }
  for (const d of (await readdir(tmpdir())).filter((d) => d.startsWith('ipcr-fifo-'))) {
    if (existsSync(join(tmpdir(), d, `${id}-stdout`))) found.push(`fifo dir ${d}`)
  }
  return found
}

async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 15_000, context?: () => Promise<string>): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const v = await probe()
    if (v !== undefined) return v
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${context ? `:\n${await context()}` : ''}`)
    await new Promise((r) => setTimeout(r, 100))
  }
}

const taskRunning = (id: string) => waitFor(`task ${id} to run`, async () =>
  (await ctr(['tasks', 'ls'])).stdout.split('\n').some((l) => l.startsWith(`${id} `) && l.includes('RUNNING')) || undefined)

/** Start ipcr without waiting for it, to signal it; resolves to its exit code and output. */
function start(args: string[]): { pid: number; done: Promise<{ code: number | null; stdout: string; stderr: string }> } {
  const child = spawn(bin, [...args], { env: process.env, stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (b: Buffer) => { stdout += b })
  child.stderr.on('data', (b: Buffer) => { stderr += b })
  const done = new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })))
  return { pid: child.pid as number, done }
}

beforeAll(async () => {
  fx = await buildFixtures(join(tmpdir(), 'ipcr-fixtures'))
  IMG = fx.single.name
  work = await mkdtemp(join(tmpdir(), 'ipcr-run-e2e-'))
  await wipeContainerd()
  await runOk('ctr', ['--address', process.env.CONTAINERD_ADDRESS as string, 'images', 'import', fx.single.tar])
})

afterAll(async () => {
  if (work) await rm(work, { recursive: true, force: true })
})

describe('ipcr run: output, exit codes, stdin', () => {
  it('prints what the command prints and leaves nothing after --rm', async () => {
    const r = await ipcr(['run', '--rm', IMG, 'run-echo', 'echo', 'hello', 'from', 'busybox'])
    expect(r.stderr).toBe('')
    expect(r.stdout).toBe('hello from busybox\n')
    expect(r.code).toBe(0)
    expect(await leftovers('run-echo')).toEqual([])
  })

  it('exits with the container\'s exit code, and options of the command are not ipcr\'s', async () => {
    const r = await ipcr(['run', '--rm', IMG, 'run-exit', 'sh', '-c', 'exit 3'])
    expect(r.code).toBe(3)
    expect(await leftovers('run-exit')).toEqual([])
    // -n and -a are global options of ipcr before the subcommand, but the container's here.
    const echo = await ipcr(['run', '--rm', IMG, 'run-flags', 'echo', '-n', '-a', 'x'])
    expect(echo.stdout).toBe('-a x')
  })

  it('passes stdin through to EOF', async () => {
    const r = await ipcr(['run', '--rm', IMG, 'run-cat', 'cat'], { input: 'hi' })
    expect(r.stdout).toBe('hi')
    expect(r.code).toBe(0)
    const big = 'x'.repeat(300_000)
    const wc = await ipcr(['run', '--rm', IMG, 'run-cat-big', 'sh', '-c', 'cat | cat'], { input: big })
    expect(wc.stdout.length).toBe(big.length)
  })

  it('keeps stdout and stderr apart', async () => {
    const r = await ipcr(['run', '--rm', IMG, 'run-streams', 'sh', '-c', 'echo out; echo err >&2; echo out2'])
    expect(r.stdout).toBe('out\nout2\n')
    expect(r.stderr).toBe('err\n')
  })

  it('runs the image\'s Cmd as root when no command is given', async () => {
    const r = await ipcr(['run', '--rm', IMG, 'run-default'], { input: 'id; echo $PATH; pwd\n' })
    expect(r.stdout).toBe('uid=0(root) gid=0(root) groups=0(root)\n/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\n/\n')
  })
})

describe('ipcr run: options take effect inside the container', () => {
  it('--env and --env-file', async () => {
    const envFile = join(work, 'env')
    await writeFile(envFile, '# comment\nFROM_FILE=file\nBOTH=file\n\n')
    const r = await ipcr(['run', '--rm', '--env-file', envFile, '--env', 'FOO=bar baz', '--env', 'BOTH=flag', IMG, 'run-env',
      'sh', '-c', 'echo "$FOO|$FROM_FILE|$BOTH"'])
    expect(r.stdout).toBe('bar baz|file|flag\n')
  })

  it('--cwd', async () => {
    expect((await ipcr(['run', '--rm', '--cwd', '/tmp', IMG, 'run-cwd', 'pwd'])).stdout).toBe('/tmp\n')
  })

  it('--user by ids and by name, through the image\'s /etc/passwd and /etc/group', async () => {
    expect((await ipcr(['run', '--rm', '--user', '1000:1000', IMG, 'run-user', 'id'])).stdout).toBe('uid=1000(app) gid=1000(app) groups=1000(app)\n')
    expect((await ipcr(['run', '--rm', '--user', 'app', IMG, 'run-user', 'id'])).stdout).toBe('uid=1000(app) gid=1000(app) groups=1000(app)\n')
    expect((await ipcr(['run', '--rm', '-u', '1000:0', IMG, 'run-user', 'id'])).stdout).toBe('uid=1000(app) gid=0(root) groups=0(root)\n')
    const r = await ipcr(['run', '--rm', '--user', 'app', IMG, 'run-user', 'sh', '-c', 'echo x > /etc/f'])
    expect(r.stderr).toContain('Permission denied')
    expect(r.code).not.toBe(0)
  })

  it('--read-only', async () => {
    const ro = await ipcr(['run', '--rm', '--read-only', IMG, 'run-ro', 'sh', '-c', 'echo x > /f'])
    expect(ro.stderr).toContain('Read-only file system')
    expect(ro.code).not.toBe(0)
    const rw = await ipcr(['run', '--rm', IMG, 'run-rw', 'sh', '-c', 'echo x > /f && cat /f'])
    expect(rw.stdout).toBe('x\n')
  })

  it('a bind mount, read-only and read-write', async () => {
    const dir = join(work, 'bind')
    await rm(dir, { recursive: true, force: true })
    await runOk('mkdir', ['-p', dir])
    await writeFile(join(dir, 'from-host'), 'host data\n')
    const ro = await ipcr(['run', '--rm', '--mount', `type=bind,src=${dir},dst=/host,options=rbind:ro`, IMG, 'run-bind',
      'sh', '-c', 'cat /host/from-host; echo y > /host/new'])
    expect(ro.stdout).toBe('host data\n')
    expect(ro.stderr).toContain('Read-only file system')
    const rw = await ipcr(['run', '--rm', '--mount', `type=bind,src=${dir},dst=/host`, IMG, 'run-bind', 'sh', '-c', 'echo from-container > /host/new'])
    expect(rw.code).toBe(0)
    expect(await readFile(join(dir, 'new'), 'utf8')).toBe('from-container\n')
  })

  it('--net-host, --memory-limit and a terminal without a local one', async () => {
    const host = await ipcr(['run', '--rm', '--net-host', IMG, 'run-net', 'sh', '-c', 'echo $HOSTNAME'])
    expect(host.stdout.split('\n')[0]).toBe((await readFile('/proc/sys/kernel/hostname', 'utf8')).trim())
    // The limit as the host's cgroup (v1 or v2) for the task holds it.
    await ipcr(['run', '-d', '--memory-limit', '64m', IMG, 'run-mem', 'sleep', '300'])
    await taskRunning('run-mem')
    const ns = process.env.CONTAINERD_NAMESPACE || 'default'
    const limitFile = [`/sys/fs/cgroup/memory/${ns}/run-mem/memory.limit_in_bytes`, `/sys/fs/cgroup/${ns}/run-mem/memory.max`].find((f) => existsSync(f))
    expect(limitFile).toBeDefined()
    expect((await readFile(limitFile as string, 'utf8')).trim()).toBe(String(64 * 2 ** 20))
    await ipcr(['container', 'rm', '--force', 'run-mem'])
    expect(await leftovers('run-mem')).toEqual([])
    // -t where ipcr itself has no terminal (CI): the container still gets a pty.
    const tty = await ipcr(['run', '--rm', '-t', IMG, 'run-t', 'sh', '-c', 'test -t 0 && echo pty'])
    expect(tty.stdout).toBe('pty\r\n')
  })

  it('-d leaves the task running with its labels; container ls, task kill and container rm deal with it', async () => {
    const r = await ipcr(['run', '-d', '--label', 'team=ipcr', '--label', 'flag', IMG, 'run-detached', 'sleep', '300'])
    expect(r).toMatchObject({ code: 0, stdout: '', stderr: '' })
    await taskRunning('run-detached')
    const ls = JSON.parse((await ipcr(['container', 'ls', '--json'])).stdout) as Array<{ id: string; labels: Record<string, string>; image: string }>
    const mine = ls.find((c) => c.id === 'run-detached')
    expect(mine?.image).toBe(IMG)
    expect(mine?.labels).toMatchObject({ team: 'ipcr', flag: 'true', 'io.containerd.image.config.stop-signal': 'SIGTERM' })
    expect((await ipcr(['container', 'ls', '-q'])).stdout.split('\n')).toContain('run-detached')
    expect((await ipcr(['task', 'ls'])).stdout).toMatch(/^run-detached\s+\d+\s+RUNNING$/m)

    const busy = await ipcr(['container', 'rm', 'run-detached'])
    expect(expectCleanFailure(busy)).toContain('running')
    expect(await ipcr(['task', 'kill', '-s', 'KILL', 'run-detached'])).toMatchObject({ code: 0 })
    await waitFor('the task to stop', async () => ((await ipcr(['task', 'ls'])).stdout.includes('STOPPED') || undefined))
    expect((await ipcr(['container', 'rm', 'run-detached'])).stdout).toBe('run-detached\n')
    expect(await leftovers('run-detached')).toEqual([])
  })

  it('container rm --force kills a running task first', async () => {
    await ipcr(['run', '-d', IMG, 'run-forced', 'sleep', '300'])
    await taskRunning('run-forced')
    expect((await ipcr(['container', 'rm', '--force', 'run-forced'])).code).toBe(0)
    expect(await leftovers('run-forced')).toEqual([])
  })
})

describe('ipcr run: signals', () => {
  it('forwards SIGINT to the task; the task\'s exit code is ipcr\'s and --rm still cleans up', async () => {
    const p = start(['run', '--rm', IMG, 'run-sigint', 'sh', '-c', 'trap "echo trapped; exit 130" INT; while :; do sleep 0.1; done'])
    await taskRunning('run-sigint')
    process.kill(p.pid, 'SIGINT')
    const r = await p.done
    expect(r.stdout).toBe('trapped\n')
    expect(r.code).toBe(130)
    expect(await leftovers('run-sigint')).toEqual([])
  })

  it('a second SIGINT kills a task that ignores the first (an init process without a handler)', async () => {
    const p = start(['run', '--rm', IMG, 'run-sigint2', 'sleep', '300'])
    await taskRunning('run-sigint2')
    process.kill(p.pid, 'SIGINT')
    await new Promise((r) => setTimeout(r, 500))
    process.kill(p.pid, 'SIGINT')
    const r = await p.done
    expect(r.code).toBe(137)
    expect(await leftovers('run-sigint2')).toEqual([])
  })

  it('SIGTERM reaches the task too', async () => {
    const p = start(['run', '--rm', IMG, 'run-sigterm', 'sh', '-c', 'trap "exit 143" TERM; while :; do sleep 0.1; done'])
    await taskRunning('run-sigterm')
    process.kill(p.pid, 'SIGTERM')
    expect((await p.done).code).toBe(143)
    expect(await leftovers('run-sigterm')).toEqual([])
  })
})

describe('ipcr run -t in a real terminal (tmux)', () => {
  it('shows a prompt, runs what is typed, follows resizes, exits on exit and restores the terminal', async () => {
    const sock = join(work, 'tmux.sock')
    const script = join(work, 'tty.sh')
    const out = (name: string) => join(work, `tty-${name}`)
    await writeFile(script, [
      '#!/bin/sh',
      `stty -g > ${out('before')}`,
      `"${bin}" run --rm -t ${IMG} run-tty sh`,
      `echo $? > ${out('code')}.tmp && mv ${out('code')}.tmp ${out('code')}`,
      `stty -g > ${out('after')}`,
      'exec sleep 300',
    ].join('\n'), { mode: 0o755 })
    const tmux = (...args: string[]) => runOk('tmux', ['-S', sock, ...args])
    const screen = async () => (await tmux('capture-pane', '-p', '-t', 'run')).stdout
    await tmux('new-session', '-d', '-s', 'run', '-x', '100', '-y', '30', script)
    try {
      await waitFor('the prompt', async () => ((await screen()).includes('/ #') || undefined), 15_000, screen)
      await tmux('send-keys', '-t', 'run', 'echo typed-$((6*7))', 'Enter')
      await waitFor('the typed command\'s output', async () => ((await screen()).includes('typed-42') || undefined))
      const size = async () => (await tmux('display', '-p', '-t', 'run', '#{pane_height} #{pane_width}')).stdout.trim()
      await tmux('send-keys', '-t', 'run', 'echo size=$(stty size | tr " " x)', 'Enter')
      const first = (await size()).replace(' ', 'x')
      await waitFor('the initial size', async () => ((await screen()).includes(`size=${first}`) || undefined))
      await tmux('resize-window', '-t', 'run', '-x', '90', '-y', '25')
      const second = (await size()).replace(' ', 'x')
      expect(second).not.toBe(first)
      await new Promise((r) => setTimeout(r, 300))
      await tmux('send-keys', '-t', 'run', 'echo size=$(stty size | tr " " x)', 'Enter')
      await waitFor('the new size inside', async () => ((await screen()).includes(`size=${second}`) || undefined))
      await tmux('send-keys', '-t', 'run', 'exit', 'Enter')
      await waitFor('ipcr to exit', async () => (existsSync(out('code')) || undefined))
      expect((await readFile(out('code'), 'utf8')).trim()).toBe('0')
      await waitFor('stty after', async () => (existsSync(out('after')) || undefined))
      expect(await readFile(out('after'), 'utf8')).toBe(await readFile(out('before'), 'utf8'))
      expect(await leftovers('run-tty')).toEqual([])
    } finally {
      await run('tmux', ['-S', sock, 'kill-server'])
    }
  })
})

describe('ipcr run: bad input fails in one line and leaves nothing behind', () => {
  it('unknown image, id in use, bad --mount, bad --env, missing snapshotter and more', async () => {
    const before = (await ctr(['containers', 'ls', '-q'])).stdout
    expect(expectCleanFailure(await ipcr(['run', '--rm', 'no.such/image:1', 'run-bad', 'true']))).toMatch(/image "no.such\/image:1" not found/)
    await ipcr(['run', '-d', IMG, 'run-taken', 'sleep', '300'])
    const taken = await ipcr(['run', '--rm', IMG, 'run-taken', 'true'])
    expect(expectCleanFailure(taken)).toMatch(/container "run-taken" already exists/)
    expect(await taskRunning('run-taken')).toBe(true) // the other container is untouched
    await ipcr(['container', 'rm', '-f', 'run-taken'])
    const bad: Array<[string[], RegExp]> = [
      [['--mount', 'type=bind,dst=/x'], /invalid --mount .*needs src=/],
      [['--mount', 'src=/tmp'], /invalid --mount .*no dst=/],
      [['--mount', 'type=bind,src=/tmp,dst=/x,bogus=1'], /unknown key "bogus"/],
      [['--mount', 'type=bind,src=/no/such/dir,dst=/x'], /bind mount source \/no\/such\/dir does not exist/],
      [['--env', '=x'], /invalid --env "=x"/],
      [['--snapshotter', 'nosuch'], /no snapshotter "nosuch"/],
      [['--user', 'nobody'], /user "nobody" not found/],
      [['--user', 'a:b:c'], /invalid --user/],
      [['--cwd', 'relative'], /invalid --cwd/],
      [['--memory-limit', 'lots'], /invalid --memory-limit/],
      [['--rm', '-d'], /--rm and --detach/],
    ]
    for (const [flags, message] of bad) {
      const r = await ipcr(['run', ...flags, IMG, 'run-bad', 'true'])
      expect(expectCleanFailure(r), flags.join(' ')).toMatch(message)
      expect(await leftovers('run-bad'), flags.join(' ')).toEqual([])
    }
    expect(expectCleanFailure(await ipcr(['run', IMG, 'bad id', 'true']))).toMatch(/invalid container id/)
    // Node 20 itself reads a script's --env-file argument and stops at a missing file
    // (nodejs/node#54232): still one line and a non-zero exit, before ipcr runs at all.
    const envFile = await ipcr(['run', '--env-file', '/no/such/file', IMG, 'run-bad', 'true'])
    expect(envFile.code).not.toBe(0)
    expect(envFile.stdout).toBe('')
    expect(envFile.stderr.trim().split('\n')).toHaveLength(1)
    expect(envFile.stderr).toContain('/no/such/file')
    const badFile = join(work, 'bad.env')
    await writeFile(badFile, 'OK=1\n=x\n')
    expect(expectCleanFailure(await ipcr(['run', '--env-file', badFile, IMG, 'run-bad', 'true']))).toMatch(/invalid line 2 of --env-file/)
    // A command that does not exist fails at task creation; what was made for it is undone.
    const missing = await ipcr(['run', IMG, 'run-bad', 'no-such-command'])
    expect(expectCleanFailure(missing)).toMatch(/no-such-command/)
    expect(await leftovers('run-bad')).toEqual([])
    expect((await ctr(['containers', 'ls', '-q'])).stdout).toBe(before)
    expect((await ctr(['leases', 'ls', '-q'])).stdout.trim()).toBe('')
  })

  it('container rm and task kill of unknown containers', async () => {
    expect(expectCleanFailure(await ipcr(['container', 'rm', 'run-nope']))).toMatch(/no container "run-nope"/)
    expect(expectCleanFailure(await ipcr(['task', 'kill', 'run-nope']))).toMatch(/no container "run-nope"/)
    expect(expectCleanFailure(await ipcr(['task', 'kill', '-s', 'SIGNOPE', 'run-nope']))).toMatch(/invalid signal/)
  })
})

describe('ipcr run: images from IPFS and unpacking on demand', () => {
  it('runs an image rpulled with --snapshotter=overlayfs, by CID and ipfs://CID', async () => {
    const push = await ipcr(['i', 'ipfs-push', '--estargz=false', IMG])
    expect(push.code, push.stderr).toBe(0)
    const cid = push.stdout.trim()
    await wipeContainerd()
    const pull = await ipcr(['i', 'rpull', '--snapshotter=overlayfs', '--ipfs', cid])
    expect(pull.code, pull.stderr).toBe(0)
    const r = await ipcr(['run', '--snapshotter=overlayfs', '--rm', cid, 'run-cid', 'echo', 'from ipfs'])
    expect(r.stdout).toBe('from ipfs\n')
    expect(r.stderr).toBe('')
    // Without --snapshotter: the one the image is unpacked for.
    expect((await ipcr(['run', '--rm', `ipfs://${cid}`, 'run-cid', 'echo', 'again'])).stdout).toBe('again\n')
    expect(await leftovers('run-cid')).toEqual([])
  })

  it('unpacks an image that is not unpacked yet, for overlayfs and for stargz', async () => {
    await wipeContainerd()
    await runOk('ctr', ['--address', process.env.CONTAINERD_ADDRESS as string, 'images', 'import', '--no-unpack', fx.single.tar])
    expect((await ipcr(['run', '--rm', IMG, 'run-unpack', 'echo', 'unpacked'])).stdout).toBe('unpacked\n')
    const stargz = await ipcr(['run', '--rm', '--snapshotter=stargz', IMG, 'run-unpack', 'echo', 'on stargz'])
    expect(stargz.stdout, stargz.stderr).toBe('on stargz\n')
    const top = fx.single.manifests[0]!.diffIds[0]!
    for (const sn of ['overlayfs', 'stargz']) {
      expect((await ctr(['snapshots', '--snapshotter', sn, 'ls'])).stdout).toContain(top)
    }
    // Both unpacked copies are held by the config's GC labels, so they survive a collection.
    const config = fx.single.manifests[0]!.config.digest
    const labels = (await ctr(['content', 'ls'])).stdout.split('\n').find((l) => l.startsWith(config)) ?? ''
    expect(labels).toContain(`containerd.io/gc.ref.snapshot.overlayfs=${top}`)
    expect(labels).toContain(`containerd.io/gc.ref.snapshot.stargz=${top}`)
  })

  it('says which snapshotter holds an image whose layers never reached the content store', async () => {
    // As after a lazy pull with stargz: unpacked there only, and no layer blob.
    const m = fx.single.manifests[0]!
    const top = m.diffIds[0]!
    await ctr(['snapshots', '--snapshotter', 'overlayfs', 'rm', top])
    await ctr(['content', 'label', m.config.digest, 'containerd.io/gc.ref.snapshot.overlayfs=', `containerd.io/gc.ref.snapshot.stargz=${top}`])
    await ctr(['content', 'rm', m.layers[0]!.digest])
    const r = await ipcr(['run', '--rm', '--snapshotter=overlayfs', IMG, 'run-lazy', 'true'])
    expect(expectCleanFailure(r)).toMatch(/not in containerd's content store: it was pulled lazily with the stargz snapshotter.*--snapshotter=stargz/)
    expect(await leftovers('run-lazy')).toEqual([])
    expect((await ipcr(['run', '--rm', '--snapshotter=stargz', IMG, 'run-lazy', 'echo', 'still runs'])).stdout).toBe('still runs\n')
  })
})
