/**
 * Gzip members compressed on worker threads. The Go-exact encoder (./gzip) is JavaScript, so unlike
 * zlib it would otherwise run on the converting thread: a few workers give a layer's members the
 * parallelism zlib had on libuv's pool and Go's estargz.Build has across cores. The workers run
 * worker.ts, found beside this module; where it is missing (running from the TypeScript sources)
 * members are compressed in this thread instead. Idle workers exit after a moment, so nothing lingers.
 */
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { Worker } from 'node:worker_threads'
import { IpcrError } from '../errors.js'
import { gzipMember } from './gzip/index.js'

export interface GzipJob {
  gzip: { id: number; level: number; flush: boolean; data: Uint8Array }
}

/**
 * A worker hands the input back with the member (the caller drops it). A worker allocates little on
 * its JS heap, so it collects garbage rarely, and inputs it had let go of piled up there until V8's
 * external-memory limit forced a GC: some 40 MiB of a conversion's peak RSS. Moved back, an input
 * dies young in the converting thread, whose frequent scavenges free it.
 */
export type GzipReply = { gzip: { id: number; out: Uint8Array; input: Uint8Array } } | { gzip: { id: number; error: string } }

/** A gzip worker failed or died; the conversion fails with it. */
export class GzipWorkerError extends IpcrError {}

const IDLE_MS = 2000

interface Pending {
  resolve: (out: Uint8Array) => void
  reject: (err: unknown) => void
}

interface Slot {
  worker: Worker
  busy: number
}

/** Something that compresses whole members: a GzipPool, or the port to one in another thread. */
export interface MemberCompressor {
  /** `data` (handed over: the caller must not touch it again) as one Go-exact gzip member. */
  compress(data: Uint8Array, level: number, flush: boolean): Promise<Uint8Array>
}

/** Transfer a buffer that is wholly the view's own; a view into a shared one (Buffer's pool) is copied. */
function transferable(data: Uint8Array): ArrayBuffer[] {
  const own = data.byteOffset === 0 && data.byteLength === data.buffer.byteLength && data.buffer instanceof ArrayBuffer
  return own ? [data.buffer as ArrayBuffer] : []
}

export class GzipPool implements MemberCompressor {
  private readonly slots: Slot[] = []
  private readonly pending = new Map<number, { slot: Slot; p: Pending }>()
  private nextId = 1
  private idleTimer: NodeJS.Timeout | undefined

  constructor(
    readonly size: number,
    private readonly workerUrl: URL | undefined,
  ) {}

  /** `data` (handed over: the caller must not touch it again) as one Go-exact gzip member. */
  compress(data: Uint8Array, level: number, flush: boolean): Promise<Uint8Array> {
    if (this.size <= 0 || !this.workerUrl) {
      try {
        return Promise.resolve(gzipMember(data, level, flush))
      } catch (err) {
        return Promise.reject(err)
      }
    }
    clearTimeout(this.idleTimer)
    const slot = this.pick()
    const id = this.nextId++
    slot.busy++
    return new Promise((resolve, reject) => {
      this.pending.set(id, { slot, p: { resolve, reject } })
      const job: GzipJob = { gzip: { id, level, flush, data } }
      slot.worker.postMessage(job, transferable(data))
    })
  }

  private pick(): Slot {
    let best = this.slots[0]
    for (const s of this.slots) if (s.busy < best!.busy) best = s
    if (best && (best.busy === 0 || this.slots.length >= this.size)) return best
    return this.spawn()
  }

  private spawn(): Slot {
    const worker = new Worker(this.workerUrl!)
    worker.unref()
    const slot: Slot = { worker, busy: 0 }
    worker.on('message', (reply: GzipReply) => {
      const entry = this.pending.get(reply.gzip.id)
      if (!entry) return
      this.pending.delete(reply.gzip.id)
      slot.busy--
      if ('out' in reply.gzip) entry.p.resolve(reply.gzip.out)
      else entry.p.reject(new GzipWorkerError(`gzip worker: ${reply.gzip.error}`))
      this.maybeIdle()
    })
    const fail = (err: unknown) => {
      const i = this.slots.indexOf(slot)
      if (i >= 0) this.slots.splice(i, 1)
      for (const [id, entry] of this.pending) {
        if (entry.slot !== slot) continue
        this.pending.delete(id)
        entry.p.reject(err instanceof IpcrError ? err : new GzipWorkerError(`gzip worker failed: ${(err as Error)?.message ?? String(err)}`, { cause: err }))
      }
    }
    worker.on('error', fail)
    worker.on('exit', (code) => fail(new GzipWorkerError(`gzip worker exited with code ${code}`)))
    this.slots.push(slot)
    return slot
  }

  private maybeIdle(): void {
    if (this.pending.size > 0) return
    clearTimeout(this.idleTimer)
    this.idleTimer = setTimeout(() => void this.close(), IDLE_MS)
    this.idleTimer.unref()
  }

  /** Stop every worker; jobs still running fail. */
  async close(): Promise<void> {
    clearTimeout(this.idleTimer)
    const slots = this.slots.splice(0)
    await Promise.all(slots.map((s) => s.worker.terminate()))
  }
}

/** The worker script beside this module, if there is one (not when running from the TS sources). */
export function defaultWorkerUrl(): URL | undefined {
  const url = new URL('./worker.js', import.meta.url)
  return url.protocol === 'file:' && existsSync(fileURLToPath(url)) ? url : undefined
}

let shared: GzipPool | undefined

/** This thread's own pool, made on first use with `size` workers (0: compress in this thread). */
export function memberCompressor(size: number): MemberCompressor {
  if (!shared || shared.size !== size) {
    void shared?.close()
    shared = new GzipPool(size, defaultWorkerUrl())
  }
  return shared
}

/** The worker side: answer one job. */
export function runGzipJob(job: GzipJob['gzip']): { reply: GzipReply; transfer: ArrayBuffer[] } {
  try {
    const out = gzipMember(job.data, job.level, job.flush)
    return { reply: { gzip: { id: job.id, out, input: job.data } }, transfer: [out.buffer as ArrayBuffer, job.data.buffer as ArrayBuffer] }
  } catch (err) {
    return { reply: { gzip: { id: job.id, error: err instanceof Error ? err.message : String(err) } }, transfer: [] }
  }
}
