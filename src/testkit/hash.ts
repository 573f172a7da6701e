/** sha256 helpers; every digest the kit writes or checks goes through these. */
import { createHash, type Hash } from 'node:crypto'
import { createReadStream } from 'node:fs'
import { Transform, type TransformCallback } from 'node:stream'

export function sha256Hex(data: Uint8Array | string): string {
  return createHash('sha256').update(data).digest('hex')
}

export function sha256Digest(data: Uint8Array | string): string {
  return `sha256:${sha256Hex(data)}`
}

/** Hash a file by streaming it, so a 1 GiB blob costs no memory. */
export async function sha256File(path: string): Promise<{ digest: string; size: number }> {
  const hash = createHash('sha256')
  let size = 0
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) {
    const buf = chunk as Buffer
    hash.update(buf)
    size += buf.length
  }
  return { digest: `sha256:${hash.digest('hex')}`, size }
}

/** A pass-through stream that hashes and counts what flows through it. */
export class HashingPassThrough extends Transform {
  private readonly hash: Hash = createHash('sha256')
  private result: string | undefined
  size = 0

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.hash.update(chunk)
    this.size += chunk.length
    cb(null, chunk)
  }

  /** Only valid once the stream has finished; may be called more than once. */
  digest(): string {
    this.result ??= `sha256:${this.hash.digest('hex')}`
    return this.result
  }
}
