import { createReadStream } from 'node:fs'
import { mkdir, open, rename, rm } from 'node:fs/promises'
import { randomBytes } from 'node:crypto'
import { dirname } from 'node:path'

/** Read a byte range of a file as a stream of chunks (inclusive start, exclusive end). */
export async function* readRange(path: string, start = 0, end?: number): AsyncGenerator<Uint8Array> {
  if (end !== undefined && end <= start) return
  const stream = createReadStream(path, { start, ...(end !== undefined ? { end: end - 1 } : {}), highWaterMark: 1 << 20 })
  for await (const chunk of stream) yield chunk as Buffer
}

/**
 * Write a file so that readers see either the old content or the whole new one: write a temp name
 * beside it, fsync, rename. `bytes` may throw midway (e.g. a digest check): the temp file is removed.
 */
export async function writeFileAtomic(path: string, bytes: AsyncIterable<Uint8Array> | Uint8Array): Promise<void> {
  await mkdir(dirname(path), { recursive: true })
  const tmp = `${path}.${randomBytes(6).toString('hex')}.tmp`
  const fh = await open(tmp, 'w')
  try {
    if (bytes instanceof Uint8Array) await fh.writeFile(bytes)
    else for await (const chunk of bytes) await fh.write(chunk)
    await fh.sync()
    await fh.close()
    await rename(tmp, path)
  } catch (err) {
    await fh.close().catch(() => undefined)
    await rm(tmp, { force: true })
    throw err
  }
}
