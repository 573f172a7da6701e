/**
 * Convert layers one at a time in this thread, their gzip members compressed by one GzipPool (a
 * worker per core), as Go's estargz.Build spends its cores: a layer at a time, its members in
 * parallel. What runs here (reading the spool, hashing, the tar index, ~10% of the CPU time) is
 * cheap next to level-9 deflate. Layers used to convert in worker threads of their own, which
 * bought no speed (the gzip workers were the bottleneck either way) and cost a V8 isolate each with
 * a young generation grown to 32 MiB: peak RSS on the realistic image (bench/convert) went from
 * 292 to 191 MiB without them.
 */
import { availableParallelism } from 'node:os'
import { convertLayerFileToEstargz, type ConvertedLayer, type ConvertOptions } from './convert.js'
import { defaultWorkerUrl, GzipPool } from './gzip-pool.js'

export interface EstargzPoolOptions {
  /** Threads compressing gzip members; default the number of cores. */
  gzipWorkers?: number
  /** The compiled worker module; default `worker.js` beside this module (none under the TS sources: members compress in this thread). */
  workerUrl?: URL
}

export class EstargzPool {
  private readonly gzip: GzipPool
  /** The conversion running or last queued: the next one starts when it settles. */
  private tail: Promise<unknown> = Promise.resolve()
  /** Conversions queued or running. */
  private queued = 0
  private closed = false

  constructor(opts: EstargzPoolOptions = {}) {
    this.gzip = new GzipPool(Math.max(1, opts.gzipWorkers ?? availableParallelism()), opts.workerUrl ?? defaultWorkerUrl())
  }

  /** Convert the layer blob at `inputPath`; the result's `path` is a new file in tmpDir. */
  convertFile(inputPath: string, opts: ConvertOptions = {}, tmpDir?: string): Promise<ConvertedLayer> {
    if (this.closed) return Promise.reject(new Error('EstargzPool is closed'))
    // One layer at a time: a second one would add its open members to memory, not speed (the gzip
    // workers are what bounds it).
    this.queued++
    const run = this.tail.then(() => {
      if (this.closed) throw new Error('EstargzPool closed')
      return convertLayerFileToEstargz(inputPath, { ...opts, compressWith: this.gzip }, tmpDir)
    }).finally(() => {
      // The last layer is done: its gzip workers go now rather than after their idle time, while
      // the converted layers are being stored (they come back for the next conversion).
      if (--this.queued === 0) void this.gzip.close()
    })
    this.tail = run.catch(() => undefined)
    return run
  }

  async close(): Promise<void> {
    this.closed = true
    await this.gzip.close()
  }
}

export function createEstargzPool(opts: EstargzPoolOptions = {}): EstargzPool {
  return new EstargzPool(opts)
}
