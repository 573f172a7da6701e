import type { Socket } from 'node:net'
import type { Readable, Writable } from 'node:stream'
import { UnavailableError } from '../errors.js'
import { fifoReader, fifoWriter, type FifoSet } from './fifo.js'

/** The local side of a run: by default this process's stdin, stdout and stderr. */
export interface LocalIo {
  stdin: Readable & { isTTY?: boolean; setRawMode?: (raw: boolean) => unknown }
  stdout: Writable & { isTTY?: boolean; columns?: number; rows?: number }
  stderr: Writable
}

export function processIo(): LocalIo {
  return { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr }
}

/** The local terminal's size in columns and rows, when stdout (else stderr) is one. */
export function terminalSize(io: LocalIo): { width: number; height: number } | undefined {
  for (const s of [io.stdout, io.stderr] as Array<Writable & { isTTY?: boolean; columns?: number; rows?: number }>) {
    if (s.isTTY && s.columns && s.rows) return { width: s.columns, height: s.rows }
  }
  return undefined
}

/**
 * Raw mode on the local terminal for a container with a pty: keys go to the container as typed
 * (Ctrl-C included), and its pty does the echoing. Returns what restores the terminal; safe to call twice.
 */
export function enterRawMode(io: LocalIo): () => void {
  const { stdin } = io
  if (!stdin.isTTY || !stdin.setRawMode) return () => undefined
  stdin.setRawMode(true)
  let restored = false
  return () => {
    if (restored) return
    restored = true
    stdin.setRawMode?.(false)
  }
}

/**
 * The task's stdio FIFOs joined to the local streams: its stdout and stderr (just stdout, the pty,
 * with a terminal) copied out from the moment the task is created, stdin copied in once the shim
 * holds the FIFO open (after Tasks.Create), so that nothing typed or piped is lost.
 */
export class TaskStdio {
  private readonly readers: Socket[] = []
  private readonly ended: Promise<void>[] = []
  private stdinPipe: Socket | undefined
  private stdinDone = false
  private stdinRetry: NodeJS.Timeout | undefined
  private stdinWaiting: (() => void) | undefined
  private readonly detach: Array<() => void> = []

  constructor(private readonly fifos: FifoSet, private readonly io: LocalIo) {
    for (const [path, out] of [[fifos.stdout, io.stdout], [fifos.stderr, io.stderr]] as const) {
      if (path === '') continue
      const r = fifoReader(path)
      this.readers.push(r)
      this.ended.push(new Promise((resolve) => { r.once('end', resolve); r.once('close', resolve); r.once('error', () => resolve()) }))
      r.pipe(out, { end: false })
      // A reader that went away (`ipcr run ... | head -1`): keep draining the task's output so it
      // can finish (and --rm clean up) instead of dying of EPIPE here.
      const onError = (): void => { r.unpipe(out); r.resume() }
      out.on('error', onError)
      this.detach.push(() => out.off('error', onError))
    }
  }

  /**
   * Copy local stdin into the task; `onEnd` runs when it has all been written (to close the task's
   * stdin). Resolves once the FIFO is open for writing, or at close(): the caller starts the task
   * only then, so the task never runs before its input can reach it. Rejects when the FIFO cannot
   * be opened for another reason than "no reader yet", on the first try or a later one, so that the
   * run fails with that error instead of the process dying of it inside a timer.
   */
  forwardStdin(onEnd: () => void): Promise<void> {
    return new Promise((resolve, reject) => {
      // Not for ever: past 10 s the task starts anyway and the tries go on behind it.
      const cap = setTimeout(resolve, 10_000)
      this.stdinWaiting = () => { clearTimeout(cap); resolve() }
      const failed = (err: unknown): void => {
        clearTimeout(cap)
        this.stdinDone = true
        reject(new UnavailableError(`cannot open the task's stdin FIFO ${this.fifos.stdin}: ${(err as Error).message}`, { cause: err }))
      }
      this.openStdin(onEnd, this.stdinWaiting, failed, 5)
    })
  }

  private openStdin(onEnd: () => void, opened: () => void, failed: (err: unknown) => void, retryMs: number): void {
    if (this.fifos.stdin === '' || this.stdinDone) { opened(); return }
    let w: Socket
    try {
      w = fifoWriter(this.fifos.stdin)
    } catch (err) {
      // ENXIO: no reader holds the FIFO open yet. containerd's fifo package opens the shim's end in
      // a goroutine, so Tasks.Create can return before it is open; giving up here (as this once
      // did) left the task's stdin open for ever and `cat` waiting on it. Try again until the shim
      // has it open, or until close() says the task is gone and nobody will.
      if ((err as NodeJS.ErrnoException).code === 'ENXIO') {
        this.stdinRetry = setTimeout(() => this.openStdin(onEnd, opened, failed, Math.min(retryMs * 2, 100)), retryMs)
      } else {
        failed(err)
      }
      return
    }
    this.stdinPipe = w
    w.on('error', () => undefined) // the task exited without reading it all: not our error
    w.once('close', () => { if (!this.stdinDone) { this.stdinDone = true; onEnd() } })
    const { stdin } = this.io
    stdin.on('error', () => w.end())
    stdin.pipe(w)
    opened()
  }

  /** Resolves when the task's output has all arrived, or after `timeoutMs` when something keeps a FIFO open. */
  async drained(timeoutMs: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined
    await Promise.race([Promise.all(this.ended), new Promise((resolve) => { timer = setTimeout(resolve, timeoutMs) })])
    clearTimeout(timer)
  }

  /** Stop copying: local stdin is let go (so this process can exit) and the FIFO ends are closed. */
  close(): void {
    this.stdinDone = true
    clearTimeout(this.stdinRetry)
    this.stdinWaiting?.()
    const { stdin } = this.io
    if (this.stdinPipe) stdin.unpipe(this.stdinPipe)
    this.stdinPipe?.destroy()
    stdin.pause()
    for (const r of this.readers) {
      r.unpipe()
      r.destroy()
    }
    for (const off of this.detach.splice(0)) off()
  }
}
