import { stat } from 'node:fs/promises'
import { hostname } from 'node:os'
import type { ContainerdClient } from '../containerd/client.js'
import { AlreadyExistsError } from '../containerd/errors.js'
import { stopSignalLabel } from '../containerd/containers.js'
import type { Mount } from '../containerd/wire.js'
import { IpcrError, NotFoundError, UsageError } from '../errors.js'
import { containerSpec } from './container-spec.js'
import { makeFifos, removeFifos, type FifoSet } from './fifo.js'
import { loadRunImage } from './image.js'
import { prepareRootfs, runSnapshotter } from './rootfs-snapshot.js'
import { withRootFiles } from './rootfs.js'
import { forwardedSignals } from './signals.js'
import type { SpecMount } from './spec.js'
import { enterRawMode, processIo, TaskStdio, terminalSize, type LocalIo } from './stdio.js'
import { resolveUser } from './user.js'

/** What `ipcr run` was asked for, validated (options.ts). */
export interface RunRequest {
  image: string
  id: string
  /** Replaces the image's Entrypoint and Cmd when not empty. */
  args: string[]
  /** --snapshotter; by default one the image is unpacked for, else overlayfs. */
  snapshotter?: string | undefined
  rm?: boolean
  tty?: boolean
  detach?: boolean
  /** --env-file lines then --env values. */
  env?: string[]
  cwd?: string | undefined
  user?: string | undefined
  mounts?: SpecMount[]
  netHost?: boolean
  readOnly?: boolean
  memoryLimit?: number | undefined
  labels?: Record<string, string>
}

/** The shim ctr uses by default. */
export const runtimeName = 'io.containerd.runc.v2'

/** A run stopped by a signal before its task started; everything made for it is gone again. */
export class InterruptedError extends IpcrError {
  override readonly exitCode: number
  constructor(readonly signal: NodeJS.Signals) {
    super(`interrupted by ${signal} before the container started; nothing was left behind`)
    this.exitCode = 128 + signalNumber(signal)
  }
}

function signalNumber(signal: NodeJS.Signals): number {
  return ({ SIGHUP: 1, SIGINT: 2, SIGQUIT: 3, SIGTERM: 15, SIGUSR2: 12 } as Record<string, number>)[signal] ?? 15
}

/**
 * Run a container as `ctr run` does and return its exit status: spec from the image config on
 * containerd's defaults, a snapshot for the rootfs (unpacking the image first if needed), the
 * container record, then a task with stdio through FIFOs, waited on before it is started.
 * Signals are forwarded to the task; a second SIGINT or SIGTERM kills it. Before the task starts,
 * a failure or a signal undoes everything made so far. With `rm`, task, container and snapshot are
 * removed once it exits; with `detach`, the task is left running and 0 returned at once.
 */
export async function runContainer(client: ContainerdClient, req: RunRequest, io: LocalIo = processIo()): Promise<number> {
  if (req.rm && req.detach) throw new UsageError('--rm and --detach cannot be used together')
  const { id } = req
  const setup = new AbortController()
  const call = { signal: setup.signal }
  const undo: Array<() => Promise<unknown>> = []
  let phase: 'setup' | 'running' | 'done' = 'setup'
  let interrupts = 0
  const onSignal = (signal: NodeJS.Signals): void => {
    if (phase === 'setup') {
      if (signal === 'SIGINT' || signal === 'SIGTERM' || signal === 'SIGHUP') setup.abort(new InterruptedError(signal))
      return
    }
    if (phase !== 'running') return
    if (signal === 'SIGINT' || signal === 'SIGTERM') interrupts++
    // A second interrupt: the task did not stop on the first (an init process ignores what it has no handler for).
    const kill = interrupts > 1 ? 9 : signalNumber(signal)
    client.tasks.kill(id, kill, { all: kill === 9 }).catch(() => undefined)
    if (interrupts === 1 && (signal === 'SIGINT' || signal === 'SIGTERM') && (io.stderr as { isTTY?: boolean }).isTTY) {
      io.stderr.write(`ipcr: sent ${signal} to ${id}; again to kill it\n`)
    }
  }
  const handlers = forwardedSignals.map((s) => [s, () => onSignal(s)] as const)
  for (const [s, h] of handlers) process.on(s, h)

  let fifos: FifoSet | undefined
  let stdio: TaskStdio | undefined
  let restoreTerminal = (): void => undefined
  let stopResizing = (): void => undefined
  let snapshotter = ''
  try {
    for (const m of req.mounts ?? []) {
      if (m.type === 'bind' && m.source) {
        await stat(m.source).catch(() => { throw new UsageError(`bind mount source ${m.source} does not exist`) })
      }
    }
    const localIo = !(req.detach && !req.tty)
    // mkfifo runs while containerd answers.
    const fifoSet = localIo ? makeFifos(id, { stdin: true, stdout: true, stderr: !req.tty }) : undefined
    fifoSet?.then((f) => { fifos = f }, () => undefined)
    undo.push(async () => { const f = await fifoSet?.catch(() => undefined); if (f) await removeFifos(f) })

    // The lease guards the snapshot until the container record holds it; made while the image is read.
    const leased = client.createLease()
    leased.catch(() => undefined)
    let leaseDone: Promise<void> | undefined
    undo.push(async () => { await (await leased.catch(() => undefined))?.done() })
    const image = await loadRunImage(client, req.image, call)
    snapshotter = await runSnapshotter(client, image, req.snapshotter, call)
    const sn = snapshotter
    const tty = req.tty ? terminalSize(io) ?? { width: 0, height: 0 } : undefined

    const lease = await leased
    const c = lease.client
    const rootfs: Mount[] = await prepareRootfs(c, image, sn, id, call)
    undo.push(() => ignoreNotFound(client.snapshots(sn).remove(id)))
    setup.signal.throwIfAborted()
    const user = await withRootFiles(rootfs, (read) => resolveUser(req.user ?? image.config.User, read))
    const spec = containerSpec({
      namespace: client.namespace, id, image: image.config, args: req.args, env: req.env ?? [], mounts: req.mounts ?? [],
      cwd: req.cwd, tty, readOnly: req.readOnly ?? false, netHost: req.netHost ? { hostname: hostname() } : undefined,
      memoryLimit: req.memoryLimit, annotations: req.labels ?? {}, user,
    })
    const labels = { ...image.config.Labels, ...req.labels, [stopSignalLabel]: image.config.StopSignal ?? 'SIGTERM' }
    try {
      await c.containers.create({ id, image: image.name, runtime: { name: runtimeName }, spec, snapshotter: sn, snapshotKey: id, labels }, call)
    } catch (err) {
      if (err instanceof AlreadyExistsError) throw new AlreadyExistsError(`container "${id}" already exists (remove it with ipcr container rm ${id})`, { cause: err })
      throw err
    }
    undo.push(() => ignoreNotFound(client.containers.delete(id)))
    // The container record now holds the snapshot; the lease only guarded the gap.
    leaseDone = lease.done()
    leaseDone.catch(() => undefined)

    fifos = await fifoSet
    if (fifos) stdio = new TaskStdio(fifos, io)
    await client.tasks.create({
      containerId: id, rootfs, terminal: req.tty ?? false,
      stdin: fifos?.stdin ?? '', stdout: fifos?.stdout ?? '', stderr: fifos?.stderr ?? '',
    }, call)
    undo.push(() => destroyTask(client, id))
    if (req.detach) {
      await client.tasks.start(id, call)
      phase = 'done'
      await leaseDone
      return 0
    }

    // Wait before Start, so that even an instant exit is seen.
    const exited = client.tasks.wait(id)
    exited.catch(() => undefined)
    // End of local stdin closes the task's stdin, except on a pty: the shim hangs the terminal up
    // when its stdin closes, which would end a session that was never meant to read its input.
    await stdio?.forwardStdin(() => { if (!req.tty) client.tasks.closeStdin(id).catch(() => undefined) })
    if (req.tty) restoreTerminal = enterRawMode(io)
    await client.tasks.start(id, call)
    phase = 'running'
    if (tty) {
      const resize = (): void => {
        const size = terminalSize(io)
        if (size) client.tasks.resizePty(id, size).catch(() => undefined)
      }
      resize()
      io.stdout.on('resize', resize)
      stopResizing = () => io.stdout.off('resize', resize)
    }
    const { exitStatus } = await exited
    phase = 'done'
    await stdio?.drained(2000)
    stdio?.close()
    restoreTerminal()
    await ignoreNotFound(client.tasks.delete(id))
    if (req.rm) await removeContainer(client, id, sn)
    await leaseDone
    return exitStatus & 0xff
  } catch (err) {
    const wasRunning = phase !== 'setup'
    phase = 'done'
    stdio?.close()
    restoreTerminal()
    if (!wasRunning) {
      for (const step of undo.reverse()) await step().catch(() => undefined)
      undo.length = 0
      if (setup.signal.aborted) throw setup.signal.reason
    } else if (req.rm) {
      await destroyTask(client, id).catch(() => undefined)
      await removeContainer(client, id, snapshotter).catch(() => undefined)
    }
    throw err
  } finally {
    phase = 'done'
    for (const [s, h] of handlers) process.off(s, h)
    stdio?.close()
    stopResizing()
    restoreTerminal()
    if (fifos) await removeFifos(fifos).catch(() => undefined)
  }
}

/** Remove a container whose task is gone, and its snapshot, as `ctr run --rm` does. */
export async function removeContainer(client: ContainerdClient, id: string, snapshotter: string, snapshotKey = id): Promise<void> {
  // Independent records: the snapshot is only kept from GC by the container, not locked by it.
  await Promise.all([
    ignoreNotFound(client.containers.delete(id)),
    snapshotter && snapshotKey ? ignoreNotFound(client.snapshots(snapshotter).remove(snapshotKey)) : undefined,
  ])
}

/** Kill a task whatever its state (created, running) and delete it once it has stopped. */
async function destroyTask(client: ContainerdClient, id: string): Promise<void> {
  const exited = client.tasks.wait(id).catch(() => undefined)
  await client.tasks.kill(id, 9, { all: true }).catch(() => undefined)
  let timer: NodeJS.Timeout | undefined
  await Promise.race([exited, new Promise((resolve) => { timer = setTimeout(resolve, 10_000) })])
  clearTimeout(timer)
  await ignoreNotFound(client.tasks.delete(id))
}

async function ignoreNotFound(p: Promise<unknown>): Promise<void> {
  try {
    await p
  } catch (err) {
    if (!(err instanceof NotFoundError)) throw err
  }
}
