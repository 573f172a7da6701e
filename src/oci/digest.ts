import { createHash, type Hash } from 'node:crypto'
import { IntegrityError, UsageError } from '../errors.js'

/** `sha256:<64 lowercase hex>`; the only algorithm the Go tools write, and the only one we accept. */
export type Digest = `sha256:${string}`

const digestPattern = /^sha256:[0-9a-f]{64}$/

export function parseDigest(value: string): Digest {
  if (!digestPattern.test(value)) throw new UsageError(`invalid digest "${value}": expected sha256:<64 hex digits>`)
  return value as Digest
}

export function isDigest(value: unknown): value is Digest {
  return typeof value === 'string' && digestPattern.test(value)
}

export function sha256Digest(bytes: Uint8Array | string): Digest {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`
}

export function digestHex(d: Digest): string {
  return d.slice('sha256:'.length)
}

/**
 * Pass a blob's bytes through while hashing them; throws IntegrityError at the end when the
 * bytes do not match the descriptor, and as soon as they exceed its size, so a lying size claim
 * cannot make us read forever.
 */
export async function* verifyStream(
  expected: { digest: Digest; size: number },
  source: AsyncIterable<Uint8Array>,
  what: string = expected.digest,
): AsyncGenerator<Uint8Array> {
  const hash: Hash = createHash('sha256')
  let seen = 0
  for await (const chunk of source) {
    seen += chunk.byteLength
    if (seen > expected.size) throw new IntegrityError(`${what}: more than the ${expected.size} bytes its descriptor claims`)
    hash.update(chunk)
    yield chunk
  }
  if (seen !== expected.size) throw new IntegrityError(`${what}: ${seen} bytes where its descriptor claims ${expected.size}`)
  const actual = `sha256:${hash.digest('hex')}`
  if (actual !== expected.digest) throw new IntegrityError(`${what}: content digest is ${actual}, expected ${expected.digest}`)
}

export async function readAll(source: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const parts: Uint8Array[] = []
  for await (const chunk of source) parts.push(chunk)
  return Buffer.concat(parts)
}
