import type { CallOptions, Connection } from './connection.js'
import { ContainerdError } from './errors.js'
import type { CallScope } from './metadata.js'
import { rpc } from './protos.js'
import { fromMount, toDate, type Empty, type Mount, type WireMount, type WireTimestamp } from './wire.js'

export type TaskStatus = 'UNKNOWN' | 'CREATED' | 'RUNNING' | 'STOPPED' | 'PAUSED' | 'PAUSING'

/** A task's state, as Tasks.Get and Tasks.List report it. */
export interface TaskInfo {
  containerId: string
  pid: number
  status: TaskStatus
  stdin: string
  stdout: string
  stderr: string
  terminal: boolean
  /** Meaningful once STOPPED. */
  exitStatus: number
  exitedAt?: Date | undefined
}

export interface NewTask {
  containerId: string
  /** The container snapshot's mounts. */
  rootfs: Mount[]
  /**
   * stdio as the runc shim takes it: FIFO paths (created by the caller), `file://` or `binary://` URIs,
   * or "" for /dev/null. With a terminal, stdout carries the pty and stderr is unused.
   */
  stdin?: string
  stdout?: string
  stderr?: string
  terminal?: boolean
}

/** How a process ended; `exitStatus` is 128+N for one killed by signal N. */
export interface ExitStatus { exitStatus: number; exitedAt?: Date | undefined }

interface WireProcess {
  container_id: string
  id: string
  pid: number
  status: TaskStatus
  stdin: string
  stdout: string
  stderr: string
  terminal: boolean
  exit_status: number
  exited_at: WireTimestamp | null
}
interface ProcessRef { container_id: string; exec_id?: string }
interface WireExit { exit_status: number; exited_at: WireTimestamp | null }

const svc = 'containerd.services.tasks.v1.Tasks'
const Create = () => rpc<{
  container_id: string; rootfs: WireMount[]; stdin: string; stdout: string; stderr: string; terminal: boolean
}, { container_id: string; pid: number }>(svc, 'Create')
const Start = () => rpc<ProcessRef, { pid: number }>(svc, 'Start')
const Delete = () => rpc<{ container_id: string }, WireExit & { id: string; pid: number }>(svc, 'Delete')
const Get = () => rpc<ProcessRef, { process: WireProcess | null }>(svc, 'Get')
const List = () => rpc<{ filter: string }, { tasks: WireProcess[] }>(svc, 'List')
const Kill = () => rpc<ProcessRef & { signal: number; all: boolean }, Empty>(svc, 'Kill')
const ResizePty = () => rpc<ProcessRef & { width: number; height: number }, Empty>(svc, 'ResizePty')
const CloseIO = () => rpc<ProcessRef & { stdin: boolean }, Empty>(svc, 'CloseIO')
const Wait = () => rpc<ProcessRef, WireExit>(svc, 'Wait')

/** containerd's task service in one namespace: a container's init process, run by its runtime shim. */
export class TasksService {
  constructor(private readonly conn: Connection, private readonly scope: CallScope) {}

  /**
   * Create (not start) the task of container `containerId`: the shim starts, opens the stdio and
   * runc creates the process. Returns its pid. AlreadyExistsError when the container has a task.
   */
  async create(task: NewTask, opts?: CallOptions): Promise<{ pid: number }> {
    const req = {
      container_id: task.containerId, rootfs: task.rootfs.map(fromMount),
      stdin: task.stdin ?? '', stdout: task.stdout ?? '', stderr: task.stderr ?? '', terminal: task.terminal ?? false,
    }
    return { pid: (await this.conn.unary(Create(), req, this.scope, opts)).pid }
  }

  async start(containerId: string, opts?: CallOptions): Promise<{ pid: number }> {
    return { pid: (await this.conn.unary(Start(), { container_id: containerId }, this.scope, opts)).pid }
  }

  /**
   * Resolves when the task exits (at once if it has). Call it before start() so that no exit can
   * be missed; it takes no deadline unless one is given.
   */
  async wait(containerId: string, opts?: CallOptions): Promise<ExitStatus> {
    return toExit(await this.conn.unary(Wait(), { container_id: containerId }, this.scope, opts))
  }

  /** Remove a stopped (or never started) task and its shim; answers with how it exited. */
  async delete(containerId: string, opts?: CallOptions): Promise<ExitStatus & { pid: number }> {
    const res = await this.conn.unary(Delete(), { container_id: containerId }, this.scope, opts)
    return { ...toExit(res), pid: res.pid }
  }

  /** NotFoundError when the container has no task. */
  async get(containerId: string, opts?: CallOptions): Promise<TaskInfo> {
    const { process } = await this.conn.unary(Get(), { container_id: containerId }, this.scope, opts)
    if (process === null) throw new ContainerdError(`containerd answered without a task for ${containerId}`, 'INTERNAL')
    return fromWire(process)
  }

  async list(filter = '', opts?: CallOptions): Promise<TaskInfo[]> {
    return (await this.conn.unary(List(), { filter }, this.scope, opts)).tasks.map(fromWire)
  }

  /** Send `signal` (a number) to the task's init process, or with `all` to every process in the container. */
  async kill(containerId: string, signal: number, options: { all?: boolean } = {}, opts?: CallOptions): Promise<void> {
    await this.conn.unary(Kill(), { container_id: containerId, signal, all: options.all ?? false }, this.scope, opts)
  }

  /** Tell the task's pty its new size in columns and rows. */
  async resizePty(containerId: string, size: { width: number; height: number }, opts?: CallOptions): Promise<void> {
    await this.conn.unary(ResizePty(), { container_id: containerId, ...size }, this.scope, opts)
  }

  /** Close the task's stdin in the shim (the process then reads EOF). */
  async closeStdin(containerId: string, opts?: CallOptions): Promise<void> {
    await this.conn.unary(CloseIO(), { container_id: containerId, stdin: true }, this.scope, opts)
  }
}

function toExit(res: WireExit): ExitStatus {
  return { exitStatus: res.exit_status, exitedAt: toDate(res.exited_at) }
}

function fromWire(p: WireProcess): TaskInfo {
  return {
    containerId: p.container_id || p.id, pid: p.pid, status: p.status, stdin: p.stdin, stdout: p.stdout, stderr: p.stderr,
    terminal: p.terminal, exitStatus: p.exit_status, exitedAt: toDate(p.exited_at),
  }
}
