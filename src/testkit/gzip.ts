/**
 * Deterministic gzip. Node's gzip header already has MTIME 0 and no file name; only the OS byte
 * depends on the platform zlib was built for, so it is forced to 255 ("unknown"), as Go's
 * compress/gzip writes it. The deflate bytes themselves depend on Node's bundled zlib, which is
 * why build stamps record process.versions.zlib.
 */
import { gzipSync, createGzip } from 'node:zlib'
import { Transform, type TransformCallback } from 'node:stream'
import { GZIP_LEVEL } from './constants.js'

const OS_BYTE = 9

export function gzipDeterministic(data: Uint8Array, level = GZIP_LEVEL): Buffer {
  const out = gzipSync(data, { level })
  out[OS_BYTE] = 0xff
  return out
}

/** Streaming counterpart of gzipDeterministic: a gzip Transform plus the OS-byte patch. */
export function gzipStreamDeterministic(level = GZIP_LEVEL): Transform[] {
  let seen = 0
  const patch = new Transform({
    transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback) {
      if (seen <= OS_BYTE && seen + chunk.length > OS_BYTE) chunk[OS_BYTE - seen] = 0xff
      seen += chunk.length
      cb(null, chunk)
    },
  })
  return [createGzip({ level }), patch]
}
