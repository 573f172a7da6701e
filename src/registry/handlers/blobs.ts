import { IntegrityError } from '../../errors.js'
import { verifyStream } from '../../oci/digest.js'
import { RegistryError } from '../errors.js'
import { contentHeaders, emptyReply, type Handler } from '../handler.js'
import { parseRepository, parseRequestDigest, parseWritableRepository } from '../names.js'
import { requestedSpan } from '../range.js'
import type { BlobKeeper, BlobReader, BlobStatter } from '../roles.js'

/**
 * `GET|HEAD /v2/<name>/blobs/<digest>`, with one-span Range requests (lazy pulling reads layers
 * that way). A whole blob is hashed as it streams: a mismatch throws before its last byte, and the
 * server cuts the connection, so no client completes a wrong blob. A span cannot be hashed against
 * the blob's digest; its blocks are checked against their CIDs by the IPFS backend instead.
 */
export function blobsHandler(statter: BlobStatter, reader: BlobReader): Handler {
  return async (req) => {
    const repo = parseRepository(req.params.name as string, req.url.searchParams.get('ns'))
    const digest = parseRequestDigest(req.params.digest as string, 'BLOB_UNKNOWN')
    const entry = await statter.stat(repo, digest)
    const { size } = entry.desc
    const common = { ...contentHeaders(digest, 'application/octet-stream', size), 'accept-ranges': 'bytes', 'cache-control': 'public, max-age=31536000, immutable' }
    const rangeHeader = req.headers.range
    const span = requestedSpan(Array.isArray(rangeHeader) ? rangeHeader[0] : rangeHeader, size)
    if (span === undefined) {
      return { status: 200, headers: common, body: req.method === 'HEAD' ? undefined : lastChunkAfterCheck(verifyStream(entry.desc, reader.read(entry))) }
    }
    const length = span.end - span.start
    return {
      status: 206,
      headers: { ...common, 'content-length': length, 'content-range': `bytes ${span.start}-${span.end - 1}/${size}` },
      body: req.method === 'HEAD' ? undefined : exactly(length, reader.read(entry, span), digest),
    }
  }
}

/** `DELETE /v2/<name>/blobs/<digest>`: 202; the repository no longer holds it (IPFS keeps the bytes for others). */
export function blobDeleteHandler(keeper: BlobKeeper): Handler {
  return async (req) => {
    const repo = parseWritableRepository(req.params.name as string, req.url.searchParams.get('ns'))
    const digest = parseRequestDigest(req.params.digest as string, 'BLOB_UNKNOWN')
    if (!(await keeper.delete(repo, digest))) throw new RegistryError('BLOB_UNKNOWN', { digest })
    return emptyReply(202)
  }
}

/**
 * Hold each chunk back until the next one arrives, and the last until the stream has ended
 * without an error: verifyStream can only judge the digest after the last byte, and a client
 * that received every byte would take a response cut after it for a whole one.
 */
async function* lastChunkAfterCheck(verified: AsyncIterable<Uint8Array>): AsyncGenerator<Uint8Array> {
  let held: Uint8Array | undefined
  for await (const chunk of verified) {
    if (held !== undefined) yield held
    held = chunk
  }
  if (held !== undefined) yield held
}

/** Pass exactly `length` bytes through, failing (so the connection is cut) on more or fewer. */
async function* exactly(length: number, source: AsyncIterable<Uint8Array>, what: string): AsyncGenerator<Uint8Array> {
  let seen = 0
  for await (const chunk of source) {
    seen += chunk.byteLength
    if (seen > length) throw new IntegrityError(`${what}: IPFS returned more than the ${length} bytes of the span asked for`)
    yield chunk
  }
  if (seen !== length) throw new IntegrityError(`${what}: IPFS returned ${seen} of the span's ${length} bytes`)
}
