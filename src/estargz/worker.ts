/**
 * Worker-thread side of EstargzPool (converts one layer file per message) and of GzipPool
 * (compresses one gzip member per message): one script, so the bundle ships one worker file.
 */
import { parentPort } from 'node:worker_threads'
import { convertLayerFileToEstargz, type ConvertOptions } from './convert.js'
import { IpcrError } from '../errors.js'
import { runGzipJob, type GzipJob } from './gzip-pool.js'

export interface ConvertRequest {
  id: number
  inputPath: string
  opts: ConvertOptions
  tmpDir?: string
}

export type ConvertReply =
  | { id: number; ok: true; result: Awaited<ReturnType<typeof convertLayerFileToEstargz>> }
  | { id: number; ok: false; error: { name: string; message: string; typed: boolean; code?: string } }

const port = parentPort
if (port) {
  port.on('message', (req: ConvertRequest | GzipJob) => {
    if ('gzip' in req) {
      const { reply, transfer } = runGzipJob(req.gzip)
      port.postMessage(reply, transfer)
      return
    }
    convertLayerFileToEstargz(req.inputPath, req.opts, req.tmpDir).then(
      (result) => port.postMessage({ id: req.id, ok: true, result } satisfies ConvertReply),
      (err: unknown) => {
        const e = err instanceof Error ? err : new Error(String(err))
        // The errno code crosses too: the caller tells a full disk from a bug by it.
        const code = (e as NodeJS.ErrnoException).code
        port.postMessage({ id: req.id, ok: false, error: { name: e.name, message: e.message, typed: e instanceof IpcrError, ...(typeof code === 'string' ? { code } : {}) } } satisfies ConvertReply)
      },
    )
  })
}
