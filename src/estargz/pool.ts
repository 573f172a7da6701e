/**
 * Convert several layers at once, each in its own worker thread, up to the number of cores.
 * Layers are handed over as files (gzip or plain tar), results come back as ConvertedLayer.
 */
import { availableParallelism } from 'node:os'
import { MessageChannel, Worker } from 'node:worker_threads'
import { IntegrityError, IpcrError, UsageError } from '../errors.js'
import type { ConvertedLayer, ConvertOptions } from './convert.js'
import {
  EstargzFormatError, InvalidLayerError, NotEstargzError,
  TocDigestMismatchError, TruncatedBlobError, UnsupportedTarEntryError,
} from './errors.js'
import type { ConvertReply, ConvertRequest } from './worker.js'
import { GzipPool, serveGzipPort, type GzipWorkerData } from './gzip-pool.js'

export interface EstargzPoolOptions {
  /** Worker threads; default the number of cores. */
  size?: number
  /** Threads compressing gzip members for all layers together; default the number of cores. */
  gzipWorkers?: number
  /** The compiled worker module; default `worker.js` beside this module. */
  workerUrl?: URL
}

const ERRORS: Record<string, new (message: string) => IpcrError> = {
  InvalidLayerError, UnsupportedTarEntryError, UsageError, IntegrityError, EstargzFormatError,
  NotEstargzError, TruncatedBlobError, TocDigestMismatchError,
  ChunkDigestMismatchError: class extends IntegrityError {},
}

interface Job {
  req: ConvertRequest
  resolve: (r: ConvertedLayer) => void
  reject: (err: unknown) => void
}

interface Slot {
  worker: Worker
  job: Job | undefined
}

export class EstargzPool {
  readonly size: number
  private readonly workerUrl: URL
  private readonly slots: Slot[] = []
  private readonly queue: Job[] = []
  private nextId = 1
  private closed = false
  private readonly gzip: GzipPool

  constructor(opts: EstargzPoolOptions = {}) {
    this.size = Math.max(1, opts.size ?? availableParallelism())
    this.workerUrl = opts.workerUrl ?? new URL('./worker.js', import.meta.url)
    this.gzip = new GzipPool(Math.max(1, opts.gzipWorkers ?? availableParallelism()), this.workerUrl)
  }

  /** Convert the layer blob at `inputPath`; the result's `path` is a new file in tmpDir. */
  convertFile(inputPath: string, opts: ConvertOptions = {}, tmpDir?: string): Promise<ConvertedLayer> {
    if (this.closed) return Promise.reject(new Error('EstargzPool is closed'))
    const { signal, ...rest } = opts
    signal?.throwIfAborted()
    return new Promise((resolve, reject) => {
      const job: Job = { req: { id: this.nextId++, inputPath, opts: rest, tmpDir }, resolve, reject }
      signal?.addEventListener('abort', () => this.cancel(job, signal.reason), { once: true })
      this.queue.push(job)
      this.pump()
    })
  }

  async close(): Promise<void> {
    this.closed = true
    for (const job of this.queue.splice(0)) job.reject(new Error('EstargzPool closed'))
    await Promise.all(this.slots.splice(0).map((s) => s.worker.terminate()))
    await this.gzip.close()
  }

  private pump(): void {
    while (this.queue.length > 0) {
      let slot = this.slots.find((s) => !s.job)
      if (!slot) {
        if (this.slots.length >= this.size) return
        slot = this.spawn()
      }
      const job = this.queue.shift()!
      slot.job = job
      slot.worker.postMessage(job.req)
    }
  }

  private spawn(): Slot {
    const { port1, port2 } = new MessageChannel()
    serveGzipPort(port1, this.gzip)
    const data: GzipWorkerData = { gzipPort: port2 }
    const worker = new Worker(this.workerUrl, { workerData: data, transferList: [port2] })
    const slot: Slot = { worker, job: undefined }
    worker.unref()
    worker.on('message', (reply: ConvertReply) => {
      const job = slot.job
      if (!job || job.req.id !== reply.id) return
      slot.job = undefined
      if (reply.ok) job.resolve(reply.result)
      else {
        const Cls = reply.error.typed ? (ERRORS[reply.error.name] ?? IpcrError) : Error
        job.reject(Object.assign(new Cls(reply.error.message), reply.error.code !== undefined ? { code: reply.error.code } : {}))
      }
      this.pump()
    })
    worker.on('error', (err) => this.drop(slot, err))
    worker.on('exit', (code) => this.drop(slot, new Error(`eStargz worker exited with code ${code}`)))
    this.slots.push(slot)
    return slot
  }

  private drop(slot: Slot, err: unknown): void {
    const i = this.slots.indexOf(slot)
    if (i >= 0) this.slots.splice(i, 1)
    slot.job?.reject(err)
    slot.job = undefined
    if (!this.closed) this.pump()
  }

  private cancel(job: Job, reason: unknown): void {
    const q = this.queue.indexOf(job)
    if (q >= 0) {
      this.queue.splice(q, 1)
      job.reject(reason)
      return
    }
    const slot = this.slots.find((s) => s.job === job)
    if (slot) {
      slot.job = undefined
      job.reject(reason)
      void slot.worker.terminate()
    }
  }
}

export function createEstargzPool(opts: EstargzPoolOptions = {}): EstargzPool {
  return new EstargzPool(opts)
}
