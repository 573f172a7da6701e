import { UnavailableError } from '../../errors.js'
import type { Descriptor } from '../../oci/descriptor.js'
import { verifyStream } from '../../oci/digest.js'
import type { RegistryClient } from './client.js'
import { discard } from './http.js'

export interface UploadOptions {
  /** Blobs smaller than this go in one PUT; larger ones in PATCHes of this size. Bounds memory per upload. */
  chunkSize: number
  /** A repository of the same registry that may hold the blob already: mounted, not sent. */
  mountFrom?: string | undefined
}

/** 8 MiB: few round trips for a large layer, little memory held per upload in flight. */
export const defaultChunkSize = 8 << 20

const octets = { 'Content-Type': 'application/octet-stream' }

/** Bounded buffering of a stream into pieces of `size` bytes (the last one shorter). */
async function* pieces(source: AsyncIterable<Uint8Array>, size: number): AsyncGenerator<Buffer> {
  let held: Buffer[] = []
  let heldBytes = 0
  for await (const chunk of source) {
    held.push(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength))
    heldBytes += chunk.byteLength
    while (heldBytes >= size) {
      const all = Buffer.concat(held)
      yield all.subarray(0, size)
      held = [all.subarray(size)]
      heldBytes = all.byteLength - size
    }
  }
  if (heldBytes > 0 || held.length === 0) yield Buffer.concat(held)
}

/**
 * The registry has the blob: close the producer unread. Reading a layer of gigabytes from its
 * source only to throw it away is what the HEAD (or the mount) saved us from.
 */
async function skip(bytes: AsyncIterable<Uint8Array>): Promise<void> {
  await bytes[Symbol.asyncIterator]().return?.()
}

/**
 * Store one blob in `repository` (distribution-spec "pushing blobs"): nothing when the registry
 * has it already (HEAD), a cross-repository mount when `mountFrom` holds it, else an upload
 * session: one PUT for a small blob, PATCHes with Content-Range then a closing PUT for a large
 * one. The bytes are checked against the descriptor as they go, and a failed session is cancelled.
 */
export async function uploadBlob(client: RegistryClient, repository: string, desc: Descriptor, bytes: AsyncIterable<Uint8Array>, o: UploadOptions): Promise<void> {
  const what = `pushing blob ${desc.digest} to ${client.registry}/${repository}`
  const push = [`repository:${repository}:pull,push`]
  const head = await client.request('HEAD', `/v2/${repository}/blobs/${desc.digest}`, { scopes: push, what })
  discard(head)
  if (head.statusCode === 200) return skip(bytes)
  if (head.statusCode !== 404) throw await client.failure(head, what)

  const mounting = o.mountFrom !== undefined && o.mountFrom !== repository
  const start = mounting
    ? `/v2/${repository}/blobs/uploads/?mount=${encodeURIComponent(desc.digest)}&from=${encodeURIComponent(o.mountFrom as string)}`
    : `/v2/${repository}/blobs/uploads/`
  const scopes = mounting ? [...push, `repository:${o.mountFrom}:pull`] : push
  const opened = await client.request('POST', start, { scopes, what, body: new Uint8Array(0) })
  if (opened.statusCode === 201 && mounting) { discard(opened); return skip(bytes) }
  if (opened.statusCode !== 202) throw await client.failure(opened, what)
  discard(opened)
  let location = locationOf(opened.headers.location, what)

  try {
    let offset = 0
    let last: Buffer | undefined
    // Each piece is sent once the next one exists, so the last piece rides on the closing PUT.
    for await (const piece of pieces(verifyStream(desc, bytes), o.chunkSize)) {
      if (last !== undefined) {
        const res = await client.request('PATCH', client.url(location), {
          scopes, what, body: last,
          headers: { ...octets, 'Content-Range': `${offset}-${offset + last.byteLength - 1}` },
        })
        if (res.statusCode !== 202) throw await client.failure(res, what)
        discard(res)
        location = locationOf(res.headers.location, what)
        offset += last.byteLength
      }
      last = piece
    }
    const done = client.url(location)
    done.searchParams.set('digest', desc.digest)
    const res = await client.request('PUT', done, { scopes, what, body: last ?? new Uint8Array(0), headers: octets })
    if (res.statusCode !== 201) throw await client.failure(res, what)
    discard(res)
  } catch (err) {
    // Leave no half-written session behind; the registry would keep it until its purge runs.
    await client.request('DELETE', client.url(location), { scopes, what }).then(discard, () => undefined)
    throw err
  }
}

function locationOf(value: string | undefined, what: string): string {
  if (value === undefined || value === '') throw new UnavailableError(`${what}: the registry started an upload without a Location`)
  return value
}
