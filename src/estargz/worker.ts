/** Worker-thread side of GzipPool: compresses one gzip member per message. */
import { parentPort } from 'node:worker_threads'
import { runGzipJob, type GzipJob } from './gzip-pool.js'

const port = parentPort
if (port) {
  port.on('message', (job: GzipJob) => {
    const { reply, transfer } = runGzipJob(job.gzip)
    port.postMessage(reply, transfer)
  })
}
