/**
 * Deterministic pseudo-random bytes: AES-256-CTR over zeros, key = sha256(seed). Counter mode
 * is seekable-free but fast (AES-NI: GB/s), and unlike Math.random it is the same everywhere.
 */
import { createCipheriv, createHash } from 'node:crypto'
import { Readable } from 'node:stream'

const CHUNK = 1 << 20
const ZEROS = Buffer.alloc(CHUNK)

function cipherFor(seed: string) {
  const key = createHash('sha256').update(`ipcr-testkit-prng\0${seed}`).digest()
  return createCipheriv('aes-256-ctr', key, Buffer.alloc(16))
}

/** `size` bytes from `seed`, in memory (for small files such as the 5 MiB fixture file). */
export function prngBytes(seed: string, size: number): Buffer {
  const cipher = cipherFor(seed)
  const out = Buffer.allocUnsafe(size)
  let off = 0
  while (off < size) {
    const n = Math.min(CHUNK, size - off)
    cipher.update(ZEROS.subarray(0, n)).copy(out, off)
    off += n
  }
  return out
}

/** The same bytes as prngBytes(seed, size), streamed 1 MiB at a time so memory stays flat. */
export function prngStream(seed: string, size: number): Readable {
  const cipher = cipherFor(seed)
  let left = size
  return new Readable({
    highWaterMark: CHUNK,
    read() {
      if (left === 0) {
        this.push(null)
        return
      }
      const n = Math.min(CHUNK, left)
      left -= n
      this.push(cipher.update(ZEROS.subarray(0, n)))
    },
  })
}
